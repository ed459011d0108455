"""Flow texts: per-locale variants and a sandboxed Jinja2 environment."""

from __future__ import annotations

import pytest

from bots.flows.conditions import Name
from bots.flows.templating import (
    LocalText,
    RenderError,
    TemplateProblem,
    compile_template,
    compile_value,
    language_of,
)


def local(**variants: str) -> LocalText:
    return LocalText({k: compile_template(v) for k, v in variants.items()})


class TestLocales:
    @pytest.mark.parametrize(
        ("locale", "language"), [("es-AR", "es"), ("es_MX", "es"), ("EN", "en"), (None, "en"), ("uk", "uk")]
    )
    def test_language_of_a_locale(self, locale: str | None, language: str) -> None:
        assert language_of(locale) == language

    def test_customer_language_then_english_then_first(self) -> None:
        text = local(es="Hola", en="Hi")
        assert text.render("es", {}) == "Hola"
        assert text.render("uk", {}) == "Hi"
        assert local(es="Hola").render("uk", {}) == "Hola"
        assert LocalText({"*": compile_template("Hey")}).render("es", {}) == "Hey"


class TestRendering:
    def test_names_and_missing_values(self) -> None:
        template = compile_template("Hi {{ name }}, {{ var.order.id }}{{ attribute.city }}!")
        assert template.render({"name": "Ana", "var": {}, "attribute": {"city": "Lviv"}}) == "Hi Ana, Lviv!"

    @pytest.mark.parametrize(
        "source", ["{{ ''.__class__.__mro__ }}", "{{ var.__class__ }}", "{{ var.__init__.__globals__ }}"]
    )
    def test_python_internals_are_out_of_reach(self, source: str) -> None:
        assert compile_template(source).render({"var": {"a": 1}}) == ""

    @pytest.mark.parametrize(
        "source",
        [
            "{{ var.update({'x': 1}) }}",
            "{{ tags.append('owned') }}",
            "{{ name.__class__.__base__.__subclasses__() }}",
        ],
    )
    def test_mutation_and_calls_on_internals_fail_the_render(self, source: str) -> None:
        names = {"name": "Ana", "var": {"a": 1}, "tags": ["vip"]}
        with pytest.raises(RenderError):
            compile_template(source).render(names)
        assert names == {"name": "Ana", "var": {"a": 1}, "tags": ["vip"]}

    def test_customer_text_is_data_not_a_template(self) -> None:
        # What a customer typed is rendered as a value, so their braces stay text.
        assert compile_template("You said: {{ var.said }}").render({"var": {"said": "{{ 7*7 }}"}}) == (
            "You said: {{ 7*7 }}"
        )

    def test_syntax_errors_name_the_line_inside_the_template(self) -> None:
        with pytest.raises(TemplateProblem) as error:
            compile_template("line one\n{{ var.x ")
        assert error.value.line == 2
        assert "does not compile" in str(error.value)


class TestValues:
    def test_a_lone_reference_copies_the_value_with_its_type(self) -> None:
        assert compile_value("{{ var.rating }}").copy_of == Name("var", ("rating",))
        assert compile_value("  {{ attribute.city }} ").copy_of == Name("attribute", ("city",))

    def test_other_templates_render_to_text_and_literals_stay(self) -> None:
        assert compile_value("{{ var.a }} and {{ var.b }}").template is not None
        assert compile_value("{{ var.a | upper }}").template is not None
        assert compile_value(5).literal == 5
        assert compile_value("plain").literal == "plain"
        assert compile_value(True).literal is True
