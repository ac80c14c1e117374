// The REST API with the signed-in user's access token, kept in memory only (never in storage a
// script could read later).
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

export async function login(username: string, password: string): Promise<User> {
  const body = await request<{ access_token: string; user: User }>("POST", "/api/auth/login", {
    username,
    password,
  });
  token = body.access_token;
  user = body.user;
  return body.user;
}

export async function logout(): Promise<void> {
  try {
    if (token) await request("POST", "/api/auth/logout");
  } finally {
    token = null;
    user = null;
  }
}

export async function request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
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
    if (res.status === 401 && token) {
      token = null;
      user = null;
      onUnauthorized();
    }
    throw err;
  }
  return parsed as T;
}
