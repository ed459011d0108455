/* The agent sign-in form: exchanges email and password for the session cookie, then opens the inbox.
 * Before sign-in there is no agent preference yet, so it speaks the browser's language (English or
 * Spanish); the inbox then follows the agent's own setting. */
"use strict";

const TEXTS = {
  en: {
    title: "Sign in to the inbox",
    lead: "Every customer conversation, from every channel, in one place.",
    email: "Email",
    password: "Password",
    submit: "Sign in",
    signing_in: "Signing in…",
    missing: "Enter your email and password.",
    failed: "Sign-in failed (HTTP {status}).",
    offline: "The server cannot be reached. Check your connection and try again.",
  },
  es: {
    title: "Inicia sesión en la bandeja",
    lead: "Todas las conversaciones con clientes, de todos los canales, en un solo lugar.",
    email: "Correo electrónico",
    password: "Contraseña",
    submit: "Iniciar sesión",
    signing_in: "Iniciando sesión…",
    missing: "Escribe tu correo y tu contraseña.",
    failed: "No se pudo iniciar sesión (HTTP {status}).",
    offline: "No se puede contactar con el servidor. Revisa tu conexión e inténtalo de nuevo.",
  },
};
const LANGUAGE = (navigator.language || "en").toLowerCase().startsWith("es") ? "es" : "en";
const text = (key, status) => TEXTS[LANGUAGE][key].replace("{status}", status);

document.documentElement.lang = LANGUAGE;
for (const node of document.querySelectorAll("[data-text]")) node.textContent = text(node.dataset.text);

/** Where to go after signing in: a path on this site only (?next=//evil.example must not redirect away). */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function signIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = document.getElementById("login-error");
  const button = document.getElementById("login-submit");
  error.hidden = true;
  if (!form.email.value.trim() || !form.password.value) {
    error.textContent = text("missing");
    error.hidden = false;
    return;
  }
  button.disabled = true;
  button.textContent = text("signing_in");
  try {
    const response = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: form.email.value.trim(), password: form.password.value }),
    });
    if (response.ok) {
      location.assign(nextPage());
      return;
    }
    const body = await response.json().catch(() => ({}));
    error.textContent = (body.error && body.error.message) || text("failed", response.status);
  } catch {
    error.textContent = text("offline");
  }
  error.hidden = false;
  button.disabled = false;
  button.textContent = text("submit");
  form.password.select();
}

document.getElementById("login-form").addEventListener("submit", signIn);

// Someone who is already signed in goes straight on.
fetch("/api/v1/auth/me").then((response) => {
  if (response.ok) location.replace(nextPage());
});
