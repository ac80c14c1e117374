// The REST API with the signed-in user's access token, kept in memory only (never in storage a
// script could read later). The refresh token lives in an HttpOnly cookie the server sets on
// /api/auth/session: a reload resumes the session from it, an expired access token is renewed
// from it once, and logout clears it (docs/security.md).
export interface ApiErrorBody {
  error: string;
  message: string;
  field?: string;
  request_id?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
    readonly retryAfterS: number | null,
  ) {
    super(body.message);
  }
}

/// What to show for a failed call: the field at fault and the server's message.
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.body.field ? `${e.body.field}: ${e.message}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

export interface User {
  id: number;
  username: string;
  role: "viewer" | "analyst" | "operator" | "admin";
}

let token: string | null = null;
let user: User | null = null;
let onUnauthorized: () => void = () => {};

export function session(): { token: string | null; user: User | null } {
  return { token, user };
}

export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

interface SessionReply {
  access_token: string;
  user: User;
}

export async function login(username: string, password: string): Promise<User> {
  const body = await request<SessionReply>("POST", "/api/auth/session", { username, password });
  token = body.access_token;
  user = body.user;
  return body.user;
}

/// A new access token from the session cookie; false when there is no live session.
export async function resume(): Promise<boolean> {
  const res = await fetch("/api/auth/session/refresh", {
    method: "POST",
    headers: { "X-Remhart-Session": "1" },
  });
  if (!res.ok) return false;
  const body = (await res.json()) as SessionReply;
  token = body.access_token;
  user = body.user;
  return true;
}

/// Changes the signed-in user's password. Every other session ends; this one continues with the
/// new tokens the server answers with (the refresh token renewed in the cookie).
export async function changePassword(current: string, next: string): Promise<void> {
  const body = await request<SessionReply>("POST", "/api/auth/password", {
    current_password: current,
    new_password: next,
  });
  token = body.access_token;
  user = body.user;
}

export async function logout(): Promise<void> {
  try {
    if (token) await request("POST", "/api/auth/logout");
  } finally {
    token = null;
    user = null;
  }
}

export async function request<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  retried = false,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const retry = res.headers.get("Retry-After");
    const err = new ApiError(
      res.status,
      (parsed as ApiErrorBody) ?? { error: "http_" + res.status, message: res.statusText },
      retry === null ? null : Number(retry),
    );
    if (res.status === 401 && token && !retried && !path.startsWith("/api/auth/")) {
      // The access token expired: renew it from the session cookie, once.
      if (await resume()) return request<T>(method, path, body, true);
    }
    if (res.status === 401 && token) {
      token = null;
      user = null;
      onUnauthorized();
    }
    throw err;
  }
  return parsed as T;
}
