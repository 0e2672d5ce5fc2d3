import { describe, expect, it } from "vitest";
import { formatToken, hashOf, mintToken, parseToken, sameHash, secretMatches } from "../../src/orchestrator/auth/token.js";
import { MemoryStore, TOKEN_PROJECTIONS, getToken, tokenByHash, type DocSource } from "../../src/projections/index.js";
import type { Commit, Event, EventId, ProjectName } from "../../src/events/index.js";
import { CURRENT_VERSION } from "../../src/events/index.js";

describe("token text", () => {
  it("round trip: a minted token parses to its id and secret, and the secret matches the hash", () => {
    const t = mintToken();
    expect(t.token).toMatch(/^trib_[0-9a-z]{16}_[0-9a-z]{52}_[0-9a-z]{6}$/);
    expect(parseToken(t.token)).toStrictEqual({ tokenId: t.tokenId, secret: t.secret });
    expect(t.hash).toBe(hashOf(t.secret));
    expect(t.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(secretMatches(t.secret, t.hash)).toBe(true);
    expect(t.token).not.toContain(t.hash);
  });

  it("two tokens share neither id nor secret", () => {
    const a = mintToken();
    const b = mintToken();
    expect(a.tokenId).not.toBe(b.tokenId);
    expect(a.secret).not.toBe(b.secret);
  });

  it.each(["", "trib", "trib___", "Bearer x", "trib_abc_def_ghi", "ghp_0123456789abcdefghij", "trib_" + "0".repeat(16) + "_" + "0".repeat(52) + "_" + "0".repeat(6)])(
    "refuses garbage %j without a look-up",
    (text) => {
      expect(parseToken(text)).toBeUndefined();
    },
  );

  it("refuses the token with any one character changed", () => {
    const t = mintToken().token;
    const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
    for (let i = 5; i < t.length; i++) {
      if (t[i] === "_") continue;
      const c = alphabet[(alphabet.indexOf(t[i]!) + 1 + (i % 31)) % alphabet.length]!;
      const flipped = t.slice(0, i) + c + t.slice(i + 1);
      expect(parseToken(flipped), `changed at ${i}`).toBeUndefined();
    }
  });

  it("refuses it a character too short or too long, or with upper case", () => {
    const t = mintToken().token;
    expect(parseToken(t.slice(0, -1))).toBeUndefined();
    expect(parseToken(t + "a")).toBeUndefined();
    expect(parseToken(t.replace("trib_", "trib_a"))).toBeUndefined();
    expect(parseToken(t.toUpperCase())).toBeUndefined();
  });

  it("the check is over id and secret: the same secret under another id is refused", () => {
    const a = mintToken();
    const b = mintToken();
    const swapped = `trib_${b.tokenId}_${a.secret}_${a.token.slice(-6)}`;
    expect(parseToken(swapped)).toBeUndefined();
    expect(parseToken(formatToken(b.tokenId, a.secret))).toStrictEqual({ tokenId: b.tokenId, secret: a.secret });
  });

  it("compares hashes: equal, different, of another length", () => {
    const h = hashOf("s");
    expect(sameHash(h, hashOf("s"))).toBe(true);
    expect(sameHash(h, hashOf("t"))).toBe(false);
    expect(sameHash(h, h.slice(1))).toBe(false);
    expect(secretMatches("t", h)).toBe(false);
  });
});

describe("the tokens projection", () => {
  const ev = (n: number, type: "TokenCreated" | "TokenRevoked", data: object): Event =>
    ({ id: `01JN8A4W7X2C9H5Q3R6T8V0Y${String(n).padStart(2, "0")}` as EventId, type, v: CURRENT_VERSION[type], at: 1000 + n, data }) as Event;
  const fold = (...events: Event[]): DocSource => {
    const store = new MemoryStore(TOKEN_PROJECTIONS);
    events.forEach((e, i) => store.apply([{ seq: i + 1, id: e.id, subject: "", events: [e] } as Commit]));
    return store;
  };

  it("keeps each token by id and finds it by the hash of its secret; holds no secret", () => {
    const a = mintToken();
    const src = fold(ev(1, "TokenCreated", { tokenId: a.tokenId, project: "shop" as ProjectName, envs: ["*"], role: "read", hash: a.hash }));
    expect(getToken(src, a.tokenId)).toStrictEqual({ tokenId: a.tokenId, project: "shop", envs: ["*"], role: "read", hash: a.hash, createdAt: 1001 });
    expect(tokenByHash(src, hashOf(a.secret))?.tokenId).toBe(a.tokenId);
    expect(tokenByHash(src, hashOf("other"))).toBeUndefined();
    expect(JSON.stringify([...src.range("tokens"), ...src.range("token-hashes")])).not.toContain(a.secret);
  });

  it("a revocation is kept with its time and reason; a second one changes nothing", () => {
    const a = mintToken();
    const src = fold(
      ev(1, "TokenCreated", { tokenId: a.tokenId, project: "shop" as ProjectName, envs: ["dev"], role: "agent", hash: a.hash }),
      ev(2, "TokenRevoked", { tokenId: a.tokenId, reason: "leaked" }),
      ev(3, "TokenRevoked", { tokenId: a.tokenId }),
    );
    expect(getToken(src, a.tokenId)?.revoked).toStrictEqual({ at: 1002, reason: "leaked" });
    expect(tokenByHash(src, a.hash)?.revoked).toStrictEqual({ at: 1002, reason: "leaked" });
  });
});
