/* The agent sign-in form: exchanges email and password for the session cookie, then opens the inbox. */
"use strict";

/** Where to go after signing in: a path on this site only (?next=//evil.example must not redirect away). */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/inbox";
}

async function signIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = document.getElementById("login-error");
  const button = document.getElementById("login-submit");
  error.hidden = true;
  if (!form.email.value.trim() || !form.password.value) {
    error.textContent = "Enter your email and password.";
    error.hidden = false;
    return;
  }
  button.disabled = true;
  button.textContent = "Signing in…";
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
    error.textContent = (body.error && body.error.message) || `Sign-in failed (HTTP ${response.status}).`;
  } catch {
    error.textContent = "The server cannot be reached. Check your connection and try again.";
  }
  error.hidden = false;
  button.disabled = false;
  button.textContent = "Sign in";
  form.password.select();
}

document.getElementById("login-form").addEventListener("submit", signIn);

// Someone who is already signed in goes straight on.
fetch("/api/v1/auth/me").then((response) => {
  if (response.ok) location.replace(nextPage());
});
