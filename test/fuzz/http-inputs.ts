/**
 * The HTTP side of a fuzz campaign: random methods, paths (every route, with
 * good and bad parameters), queries, headers and bodies, and the check of
 * each answer (no 5xx; a refusal is a 4xx with an error message, without a
 * stack trace).
 */
import { Agent as HttpAgent, METHODS, request, type IncomingHttpHeaders } from "node:http";
import { ROUTES } from "../../src/protocol/index.js";
import { toJson } from "../../src/protocol/json.js";
import type { Random } from "../support/prng.js";
import { STACK, count, kindOf, type CampaignReport } from "./report.js";
import { mutateValue, randomValue } from "./mutate.js";

/** Routes that answer Server-Sent Events until the client goes: an open stream is no finding. */
const EVENT_STREAMS: ReadonlySet<string> = new Set(["envChanges", "projectChanges"]);

export interface HttpInput {
  method: string;
  path: string;
  body?: Uint8Array | string;
  headers: Record<string, string>;
  /** A long poll or stream: cut short, never a finding. */
  long?: boolean;
}

/** Random requests over every route. */
export const httpInputs = (r: Random, project: string, runs: readonly string[]): (() => HttpInput) => {
  const hex = "a".repeat(64);
  const good: Record<string, string[]> = {
    project: [project, project, "fuzz"],
    env: ["production", "production", "fz-1", "fz-2"],
    runId: [...runs, "01ABCDEFGHJKMNPQRSTVWXYZ01"],
    stepId: ["1", "2", "0"],
    assetId: ["x-a1"],
    key: [`sha256:${hex}`],
    tokenId: ["nosuchtoken", "0123456789abcdef"],
    inputId: ["01ABCDEFGHJKMNPQRSTVWXYZ02", "nosuchinput"],
    pool: ["nosuchpool", "gpu"],
  };
  const bad = ["", "a.b", "*", ">", "%zz", "%2F", "..", "__proto__", "constructor", "x".repeat(300), "é🙂", "%00", "a%20b", "-x"];
  const bodies: Record<string, unknown[]> = {
    SubmitBody: [
      { target: "flows:add", arguments: [1, 2] },
      { target: "flows:double", arguments: [3] },
      { target: "nope:x", arguments: [] },
      { target: "flows:add", arguments: [1, 2], idempotencyKey: "k1" },
    ],
    CreateEnvBody: [{ name: "fz-1" }, { name: "fz-2", base: "production" }, { name: "fz-1", from: "production", at: 3 }],
    UpdateEnvBody: [{ base: "production" }, { base: null }],
    RerunBody: [{ cascade: false }, {}],
    CreateTokenBody: [{ role: "read" }, { role: "admin", envs: ["fz-*"], name: "fuzz" }, { role: "agent", expiresInMs: 60_000 }],
    RevokeTokenBody: [{}, { reason: "fuzz" }],
    AnswerInputBody: [{ value: 1 }, { value: { ok: true } }, { value: null }],
  };
  const bodyFor = (route: (typeof ROUTES)[number]): unknown => {
    const s = route.body;
    if (s === undefined) return {};
    const props = Object.keys((s as { properties?: object }).properties ?? {});
    const key = props.includes("target")
      ? "SubmitBody"
      : props.includes("cascade")
        ? "RerunBody"
        : props.includes("role")
          ? "CreateTokenBody"
          : props.includes("reason")
            ? "RevokeTokenBody"
            : props.includes("value")
              ? "AnswerInputBody"
            : props.includes("name")
              ? "CreateEnvBody"
              : "UpdateEnvBody";
    return r.pick(bodies[key]!);
  };
  return () => {
    const route = r.pick(ROUTES);
    const method = r.chance(0.7) ? route.method : r.pick(["GET", "POST", "PUT", "HEAD", "DELETE", "PATCH", "OPTIONS", "FROB"]);
    let segs = route.path.split("/").map((p) => {
      if (!p.startsWith(":")) return p;
      const name = p.slice(1);
      return r.chance(0.8) ? encodeURIComponent(r.pick(good[name]!)) : r.pick(bad);
    });
    // Archiving the environments under test would refuse the rest: only branches and new ones.
    if (route.path.endsWith("/archive") && (segs[4] === "production" || segs[2] !== project)) segs[4] = "fz-2";
    if (r.chance(0.1)) segs = r.chance(0.5) ? [...segs, r.pick(["x", "", "runs"])] : segs.slice(0, -1);
    if (r.chance(0.03)) segs = [r.pick(["", "x", "agent", "api%2F"]), ...segs];
    const query: string[] = [];
    if (r.chance(0.4)) {
      for (let i = r.int(1, 3); i > 0; i--) {
        const k = r.pick(["limit", "wait", "follow", "run", "x", "", "limit"]);
        const v = k === "wait" || k === "follow" ? r.pick(["false", "0", "maybe", "", "true"]) : r.pick(["5", "0", "-1", "abc", "1e3", "99999", "", ...runs.slice(0, 1)]);
        query.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
      }
    }
    // A long poll, a followed log, an event stream: no answer within the deadline is no finding.
    const long = query.some((q) => q === "wait=true" || q === "follow=true") || EVENT_STREAMS.has(route.name);
    const path = `/api/${segs.join("/")}${query.length ? `?${query.join("&")}` : ""}`;
    const headers: Record<string, string> = {};
    if (r.chance(0.5)) headers["content-type"] = r.pick(["application/json", "text/plain", "application/x-www-form-urlencoded", "garbage/ /", "application/json; charset=latin1"]);
    if (r.chance(0.05)) headers["x-forwarded-for"] = "1.2.3.4";
    // A server without --auth takes no notice of credentials, good or bad.
    if (r.chance(0.05)) headers["authorization"] = r.pick(["Bearer garbage", "Basic YTpi", "Bearer trib_x_y_z", "Bearer", ""]);
    if (r.chance(0.05)) headers["accept"] = r.pick(["*/*", "text/html", "\u00ff"]).replace(/[^\x20-\x7e]/g, "?");
    let body: Uint8Array | string | undefined;
    if (method !== "GET" && method !== "HEAD" ? r.chance(0.85) : r.chance(0.05)) {
      switch (r.int(0, 9)) {
        case 0:
          body = r.bytes(r.int(0, 300));
          break;
        case 1:
          body = r.pick(["{", "[1,", "nul", '{"target":', "\u0000", "{}}", '"x"', "1e999"]);
          break;
        case 2:
          body = toJson(randomValue(r));
          break;
        case 3:
          body = r.chance(0.3) ? "x".repeat(1024 * 1024 + r.int(1, 500_000)) : toJson({ target: "flows:add", arguments: ["x".repeat(r.int(100, 900_000))] });
          break;
        default:
          body = safeJson(mutateValue(r, bodyFor(route)).value);
      }
    }
    return { method, path, headers, ...(body === undefined ? {} : { body }), long };
  };
};

const safeJson = (v: unknown): string => {
  try {
    return toJson(v) ?? "null";
  } catch {
    return "{}";
  }
};

export const httpInput = async (http: HttpAgent, url: string, input: HttpInput, report: CampaignReport, finding: (f: string) => void): Promise<void> => {
  const res = await call(http, url, input.method, input.path, input.body, input.headers, input.long ? 300 : 10_000).catch((e: Error) => ({
    status: -1,
    text: e.message,
    headers: {} as IncomingHttpHeaders,
  }));
  const what = `${input.method} ${input.path.slice(0, 200)} (${typeof input.body === "string" ? input.body.length : (input.body?.length ?? 0)} bytes)`;
  if (res.status === -1) {
    // Node's parser refuses an unknown method on the request line, answers 400 and closes while a large body is still being sent.
    if (!METHODS.includes(input.method) && /EPIPE|ECONNRESET/.test(res.text)) count(report.refusals, "http:400:closed by the HTTP parser");
    else if (!input.long) finding(`${what}: no answer: ${res.text}`);
    return;
  }
  if (res.status >= 500) {
    finding(`${what}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    return;
  }
  if (res.status >= 400) {
    count(report.refusals, `http:${res.status}`);
    if (input.method === "HEAD") return;
    let error: unknown;
    try {
      error = (JSON.parse(res.text) as { error?: unknown }).error;
    } catch {
      error = undefined;
    }
    if (typeof error !== "string" || error.length === 0) finding(`${what}: HTTP ${res.status} without an error message: ${res.text.slice(0, 200)}`);
    else if (STACK.test(error)) finding(`${what}: HTTP ${res.status} with a stack trace: ${error.slice(0, 300)}`);
    else count(report.refusals, `http:${res.status}:${kindOf(error)}`);
    return;
  }
  count(report.accepted, `http:${res.status}`);
};

/** One request with a deadline; any method, headers and body. */
export const call = (
  http: HttpAgent,
  url: string,
  method: string,
  path: string,
  body?: Uint8Array | string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> =>
  new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers: { ...headers, ...(body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) }) }, agent: http });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), headers: res.headers });
      });
      res.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });

