/**
 * A preview of an asset's file: text (UTF-8, the first 256 KiB) or an image
 * (by its name's extension, up to 8 MiB), fetched with the token. Larger
 * files and other kinds are only downloaded.
 */
import { useEffect, useState } from "preact/hooks";
import { token } from "../api.js";

export const TEXT_CAP = 256 * 1024;
export const IMAGE_CAP = 8 * 1024 * 1024;
const IMAGE_TYPES: Record<string, string> = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", svg: "image/svg+xml", bmp: "image/bmp" };

/** How a file of this name and size is previewed, if it is. */
export const previewKind = (path: string, size: number): { kind: "image"; type: string } | { kind: "text" } | { kind: "none"; why: string } => {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  const type = IMAGE_TYPES[ext];
  if (type) return size <= IMAGE_CAP ? { kind: "image", type } : { kind: "none", why: `an image over ${IMAGE_CAP / 1024 / 1024} MiB: download it` };
  return { kind: "text" };
};

const fetchBlob = async (url: string, limit: number): Promise<Uint8Array<ArrayBuffer>> => {
  const t = token();
  const res = await fetch(url, t ? { headers: { authorization: `Bearer ${t}` } } : {});
  if (!res.ok || !res.body) throw new Error(`${res.status}: ${((await res.json().catch(() => ({}))) as { error?: string }).error ?? res.statusText}`);
  // Read no more than the cap: a large file is not pulled whole for a preview.
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  while (n < limit) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  void reader.cancel().catch(() => undefined);
  const out = new Uint8Array(new ArrayBuffer(Math.min(n, limit)));
  let at = 0;
  for (const p of parts) {
    const take = Math.min(p.length, out.length - at);
    out.set(p.subarray(0, take), at);
    at += take;
    if (at >= out.length) break;
  }
  return out;
};

export const Preview = ({ url, path, size }: { url: string; path: string; size: number }) => {
  const [state, setState] = useState<{ text?: string; image?: string; note?: string; error?: string }>({});
  const how = previewKind(path, size);
  useEffect(() => {
    if (how.kind === "none") return setState({ note: how.why });
    let href: string | undefined;
    let live = true;
    fetchBlob(url, how.kind === "image" ? IMAGE_CAP : TEXT_CAP).then(
      (bytes) => {
        if (!live) return;
        if (how.kind === "image") {
          href = URL.createObjectURL(new Blob([bytes], { type: how.type }));
          return setState({ image: href });
        }
        try {
          const text = new TextDecoder("utf-8", { fatal: size <= TEXT_CAP }).decode(bytes);
          setState({ text, ...(size > TEXT_CAP ? { note: `the first ${TEXT_CAP / 1024} KiB of ${size} bytes` } : {}) });
        } catch {
          setState({ note: "not text (not UTF-8): download it" });
        }
      },
      (e: Error) => live && setState({ error: e.message }),
    );
    return () => {
      live = false;
      if (href) URL.revokeObjectURL(href);
    };
  }, [url]);
  return (
    <div class="preview" data-preview={path}>
      {state.error && <div class="error" role="alert">preview failed: {state.error}</div>}
      {state.note && <p class="muted">{state.note}</p>}
      {state.text !== undefined && <pre class="preview-text">{state.text}</pre>}
      {state.image && <img src={state.image} alt={path} />}
    </div>
  );
};
