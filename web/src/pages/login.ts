// Sign-in: clear errors, and the server's throttling (429 + Retry-After) said in plain words.
import { ApiError, errorText, login } from "../api";
import { el } from "../dom";

export function loginPage(root: HTMLElement, done: () => void): void {
  const user = el("input", { id: "username", name: "username", autocomplete: "username", required: "" });
  const pass = el("input", {
    id: "password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: "",
  });
  const error = el("p", { class: "error", role: "alert" });
  const submit = el("button", { type: "submit" }, "Sign in");
  const form = el(
    "form",
    { class: "card login", "aria-label": "Sign in" },
    el("h1", {}, "REMHART Twin"),
    el("label", { for: "username" }, "User name"),
    user,
    el("label", { for: "password" }, "Password"),
    pass,
    submit,
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      await login(user.value, pass.value);
      done();
    } catch (e) {
      if (e instanceof ApiError && e.status === 429) {
        error.textContent = `Too many attempts: try again in ${e.retryAfterS ?? "a few"} s.`;
      } else if (e instanceof ApiError && e.status === 401) {
        error.textContent = "Wrong user name or password.";
      } else {
        error.textContent = errorText(e);
      }
    } finally {
      submit.disabled = false;
    }
  });
  root.append(form);
  user.focus();
}
