// The signed-in user's account: who they are, and a password change (which ends their other
// sessions; this one continues).
import { ApiError, changePassword, errorText, session } from "../api";
import { el } from "../dom";

export async function accountPage(root: HTMLElement): Promise<() => void> {
  const { user } = session();
  const current = el("input", { id: "current-password", type: "password", required: "", autocomplete: "current-password" });
  const next = el("input", { id: "new-password", type: "password", required: "", autocomplete: "new-password" });
  const again = el("input", { id: "repeat-password", type: "password", required: "", autocomplete: "new-password" });
  const error = el("p", { class: "error", role: "alert" });
  const done = el("p", { class: "result", role: "status" });
  const submit = el("button", { type: "submit" }, "Change password");
  const form = el("form", { class: "card narrow-form", "aria-label": "Change password" },
    el("h2", {}, "Change password"),
    el("label", { for: "current-password" }, "Current password"), current,
    el("label", { for: "new-password" }, "New password"), next,
    el("label", { for: "repeat-password" }, "Repeat the new password"), again,
    submit, error, done);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    done.textContent = "";
    if (next.value !== again.value) {
      error.textContent = "The new passwords differ.";
      again.focus();
      return;
    }
    submit.disabled = true;
    try {
      await changePassword(current.value, next.value);
      form.reset();
      done.textContent = "Password changed. Your other sessions have been signed out.";
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) {
        error.textContent = "The current password is wrong.";
      } else if (e instanceof ApiError && e.status === 429) {
        error.textContent = `Too many attempts: try again in ${e.retryAfterS ?? "a few"} s.`;
      } else {
        error.textContent = errorText(e);
      }
    } finally {
      submit.disabled = false;
    }
  });
  root.append(
    el("h1", {}, "Account"),
    el("p", {}, `Signed in as ${user?.username ?? "—"}, role ${user?.role ?? "—"}.`),
    form,
  );
  return () => {};
}
