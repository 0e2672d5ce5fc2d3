/**
 * The codec: events to bytes and back, with msgpackr.
 *
 * A commit is framed as
 *
 *     0x54 'T' | format 0x01 | crc32 of payload (4 bytes, big-endian) | payload
 *
 * where the payload is the msgpack array of the commit's events. The packer
 * uses no records and no shared structures, so decoding depends on nothing
 * but these bytes: a log written today decodes in ten years. The checksum
 * means that a flipped bit or a truncation is reported as {@link CorruptEvent}
 * instead of decoding to a silently different event.
 *
 * Values: JSON plus `Date` (msgpack timestamp), `Uint8Array` (typed-array
 * extension), `bigint` (int64, or an extension beyond 64 bits), nested to any
 * depth. Decoding validates every event and upcasts old versions.
 */
import { crc32 } from "node:zlib";
import { Packr, Unpackr } from "msgpackr";
import { CorruptEvent, InvalidEvent } from "./errors.js";
import { CURRENT_VERSION, RUN_EVENT_TYPES, type Event } from "./types.js";
import { upcast } from "./upcast.js";
import { DATA, envelope, isKnownType } from "./validate.js";

const MAGIC = 0x54;
const FORMAT = 0x01;
const HEADER = 6;

const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  copyBuffers: true,
  useBigIntExtension: true,
  int64AsType: "bigint",
  mapsAsObjects: true,
});

/**
 * The same settings without copying binary values out of the input: the
 * pre-append check reads its own fresh payload and keeps nothing of it.
 */
const checker = new Unpackr({
  useRecords: false,
  moreTypes: true,
  copyBuffers: false,
  useBigIntExtension: true,
  int64AsType: "bigint",
  mapsAsObjects: true,
});

/** Encodes any value with the log's msgpack settings (no frame, no checksum). */
export const packValue = (value: unknown): Uint8Array => packr.pack(value);
/** Decodes bytes made by {@link packValue}. Throws on malformed input. */
export const unpackValue = (bytes: Uint8Array): unknown => packr.unpack(bytes);

/**
 * Wraps a msgpack payload in the commit frame (magic, format, crc32).
 * {@link encodeCommit} uses it; tests use it to build commits of old event
 * versions by hand.
 */
export const frame = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(HEADER + payload.length);
  out[0] = MAGIC;
  out[1] = FORMAT;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(2, crc32(payload));
  out.set(payload, HEADER);
  return out;
};

/** Frames the events of one commit. */
export const encodeCommit = (events: readonly Event[]): Uint8Array => frame(packr.pack(events));

/**
 * Frames the events of one commit after proving that they decode: the
 * payload is unpacked and every event validated exactly as a read would.
 * What the log adapters store.
 * @throws InvalidEvent naming the event type and the field
 */
export const encodeCheckedCommit = (events: readonly Event[]): Uint8Array => {
  const payload = packr.pack(events);
  let raw: unknown;
  try {
    raw = checker.unpack(payload);
  } catch (cause) {
    throw new InvalidEvent(String(events[0]?.type), 0, `does not decode: ${(cause as Error).message}`);
  }
  const back = raw as unknown[];
  for (let i = 0; i < events.length; i++) {
    const problem = eventProblem(back[i], i);
    if (problem) throw new InvalidEvent(typeName(events[i]), i, problem);
  }
  return frame(payload);
};

/**
 * The decoder's validation of events held in memory (no encoding): the first
 * problem as an {@link InvalidEvent}, or `undefined` when every event would
 * decode. The orchestrator checks its decisions with it before using them.
 */
export const checkEvents = (events: readonly unknown[]): InvalidEvent | undefined => {
  for (let i = 0; i < events.length; i++) {
    const problem = eventProblem(events[i], i);
    if (problem) return new InvalidEvent(typeName(events[i]), i, problem);
  }
  return undefined;
};

const typeName = (e: unknown): string => {
  const t = (e as { type?: unknown } | null)?.type;
  return typeof t === "string" ? t.slice(0, 64) : "untyped";
};

/** Why an event value would not decode (`event[i](Type).data.` trimmed off the path), or `undefined`. */
const eventProblem = (raw: unknown, index: number): string | undefined => {
  try {
    decodeEventValue(raw, undefined, index);
    return undefined;
  } catch (e) {
    if (!(e instanceof CorruptEvent)) throw e;
    return e.reason.replace(/^event\[\d+\](\([A-Za-z]+\))?(: |\.)?(data\.)?/, "") || e.reason;
  }
};

/**
 * Decodes a framed commit: checks the frame and checksum, decodes, validates
 * every event and upcasts old versions. Throws {@link CorruptEvent} naming
 * `seq` and the reason; never returns a partly valid commit.
 */
export const decodeCommit = (bytes: Uint8Array, seq?: number): Event[] => {
  if (!(bytes instanceof Uint8Array)) throw new CorruptEvent("not a byte array", seq);
  if (bytes.length < HEADER) throw new CorruptEvent(`truncated: ${bytes.length} bytes, shorter than the frame header`, seq);
  if (bytes[0] !== MAGIC) throw new CorruptEvent(`bad magic byte 0x${bytes[0]!.toString(16)}`, seq);
  if (bytes[1] !== FORMAT) throw new CorruptEvent(`unknown frame format ${bytes[1]}`, seq);
  const payload = bytes.subarray(HEADER);
  const expected = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2);
  const actual = crc32(payload);
  if (expected !== actual) {
    throw new CorruptEvent(`checksum mismatch (stored ${hex(expected)}, computed ${hex(actual)}): truncated or altered`, seq);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(payload);
  } catch (cause) {
    throw new CorruptEvent(`undecodable msgpack: ${(cause as Error).message}`, seq, { cause });
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new CorruptEvent("payload is not a non-empty array of events", seq);
  return raw.map((r, i) => decodeEventValue(r, seq, i));
};

/** Validates and upcasts one decoded event value. */
export const decodeEventValue = (raw: unknown, seq?: number, index = 0): Event => {
  const where = `event[${index}]`;
  const bad = envelope(raw, where);
  if (bad) throw new CorruptEvent(bad, seq);
  const e = raw as { type: unknown; v: number; data: unknown; runId?: string };
  if (!isKnownType(e.type)) throw new CorruptEvent(`${where}.type ${JSON.stringify(e.type)} is not a known event type`, seq);
  if (RUN_EVENT_TYPES.has(e.type) !== (e.runId !== undefined)) {
    throw new CorruptEvent(`${where}: ${e.type} ${e.runId === undefined ? "lacks" : "must not carry"} a runId`, seq);
  }
  const up = upcast(e.type, e.v, e.data);
  if (!up.ok) throw new CorruptEvent(`${where}: ${up.reason}`, seq);
  const badData = DATA[e.type](up.data, `${where}(${e.type}).data`);
  if (badData) throw new CorruptEvent(badData, seq);
  return { ...(raw as object), v: CURRENT_VERSION[e.type], data: up.data } as Event;
};

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
