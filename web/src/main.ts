// The dashboard shell: sign-in, navigation by path (every page has its URL), the stale-data
// banner, and one page at a time (each returns how to stop its live updates).
import "./style.css";
import { errorText, logout, resume, session, whenUnauthorized } from "./api";
import { chooseSource, chosenSource, sourceChoices } from "./data";
import { clear, el } from "./dom";
import { accountPage } from "./pages/account";
import { adminPage } from "./pages/admin";
import { analyticsPage } from "./pages/analytics";
import { devicesPage } from "./pages/devices";
import { docsPage } from "./pages/docs";
import { monitoringPage } from "./pages/monitoring";
import { networkPage } from "./pages/network";
import { loginPage } from "./pages/login";
import { overviewPage } from "./pages/overview";
import { simulatorPage } from "./pages/simulator";
import { statePage } from "./pages/state";
import { studiesPage } from "./pages/studies";

type Page = (root: HTMLElement, setStale: (stale: boolean) => void) => Promise<() => void>;
const pages: Record<string, { title: string; page: Page; adminOnly?: boolean; hidden?: boolean }> = {
  "/": { title: "Overview", page: overviewPage },
  "/network": { title: "Network", page: networkPage },
  "/state": { title: "State", page: statePage },
  "/studies": { title: "Studies", page: studiesPage },
  "/monitoring": { title: "Monitoring", page: monitoringPage },
  "/analytics/monitoring": { title: "Analytics", page: analyticsPage("monitoring") },
  "/analytics": { title: "Analytics", page: analyticsPage("monitoring"), hidden: true },
  "/analytics/maintenance": { title: "Maintenance", page: analyticsPage("maintenance"), hidden: true },
  "/analytics/energy": { title: "Energy", page: analyticsPage("energy"), hidden: true },
  "/analytics/decision": { title: "Decision", page: analyticsPage("decision"), hidden: true },
  "/devices": { title: "Devices", page: devicesPage },
  "/simulator": { title: "Simulator", page: simulatorPage },
  "/admin": { title: "Admin", page: adminPage, adminOnly: true },
  "/docs": { title: "API", page: docsPage },
  "/account": { title: "Account", page: accountPage, hidden: true },  // linked from the user name
};

const app = document.getElementById("app")!;
let stop: () => void = () => {};

function go(path: string): void {
  if (path !== location.pathname + location.search) history.pushState(null, "", path);
  void show();
}

async function show(): Promise<void> {
  stop();
  stop = () => {};
  clear(app);
  const { user } = session();
  if (!user) {
    loginPage(app, () => go(location.pathname === "/login" ? "/" : location.pathname));
    return;
  }
  // Pages a role may not use are neither offered nor opened (the server refuses them anyway).
  const allowed = Object.entries(pages).filter(([, p]) => !p.adminOnly || user.role === "admin");
  const route = allowed.find(([path]) => path === location.pathname)?.[1] ?? pages["/"];
  const banner = el("div", { class: "banner", role: "status", hidden: "" },
                    "Live data interrupted: reconnecting… values shown may be stale.");
  const nav = el("nav", { "aria-label": "Pages" },
    ...allowed.filter(([, p]) => !p.hidden).map(([path, p]) => link(path, p.title)),
    sourceSwitch(),
    link("/account", `${user.username} (${user.role})`, "who"),
    (() => {
      const b = el("button", { type: "button" }, "Sign out");
      b.addEventListener("click", async () => {
        await logout();
        go("/login");
      });
      return b;
    })(),
  );
  const main = el("main", {});
  app.append(nav, banner, main);
  document.title = `${route.title} · REMHART Twin`;
  try {
    stop = await route.page(main, (stale) => banner.toggleAttribute("hidden", !stale));
  } catch (e) {
    main.append(el("p", { class: "error", role: "alert" }, errorText(e)));
  }
}

// A navigation link, the current page marked for assistive technology.
function link(path: string, text: string, cls = ""): HTMLElement {
  const a = el("a", cls ? { href: path, class: cls } : { href: path }, text);
  if (path === location.pathname) a.setAttribute("aria-current", "page");
  return a;
}

// Every link within the dashboard opens its page without a page load (a new tab still opens one).
document.addEventListener("click", (ev) => {
  const a = (ev.target as Element | null)?.closest?.("a[href]");
  const href = a?.getAttribute("href") ?? "";
  if (!a || !href.startsWith("/") || href.startsWith("/api/") || a.hasAttribute("download") ||
      ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) {
    return;
  }
  ev.preventDefault();
  go(href);
});

// The data source every page shows: the pinned simulation run by default, real meters, or any run.
function sourceSwitch(): HTMLElement {
  const select = el("select", { id: "source", "aria-label": "Data source" });
  const fill = () => void sourceChoices().then((choices) => {
    select.replaceChildren(...choices.map(([value, label]) => el("option", { value }, label)));
    select.value = chosenSource();
    if (select.value !== chosenSource()) select.value = "";
  });
  fill();
  select.addEventListener("focus", fill);  // runs started meanwhile
  select.addEventListener("change", () => {
    chooseSource(select.value);
    void show();
  });
  return el("label", { class: "source-switch" }, "Source ", select);
}

whenUnauthorized(() => go("/login"));
window.addEventListener("popstate", () => void show());
// A reload resumes the session from its cookie, when there is one.
void resume().catch(() => false).then(() => show());
