/**
 * JSON for the HTTP API, with tags for the values JSON lacks, so that
 * results keep their types across the API: `{"$bigint":"12"}`,
 * `{"$date":"2025-01-01T00:00:00.000Z"}`, `{"$bytes":"<base64>"}`.
 */

export const toJson = (value: unknown, space?: number): string =>
  JSON.stringify(
    value,
    function (this: Record<string, unknown>, key, v: unknown) {
      const raw = this[key];
      if (typeof raw === "bigint") return { $bigint: raw.toString() };
      // An invalid date (none passes the edge, but old logs may hold one) must not fail a whole answer.
      if (raw instanceof Date) return { $date: Number.isNaN(raw.getTime()) ? "Invalid Date" : raw.toISOString() };
      if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw).toString("base64") };
      return v;
    },
    space,
  );

export const fromJson = (text: string): unknown =>
  JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1) {
        const o = v as Record<string, unknown>;
        if (typeof o.$bigint === "string") return BigInt(o.$bigint);
        if (typeof o.$date === "string") return new Date(o.$date);
        if (typeof o.$bytes === "string") return new Uint8Array(Buffer.from(o.$bytes, "base64"));
      }
    }
    return v;
  });
