/**
 * Windowing for long lists: of `count` rows of `rowHeight` px in a scrolled
 * box, the range to draw (those in view, and `overscan` either side). The
 * box keeps the whole height, so the scroll bar and keyboard scrolling are
 * those of the full list; only the rows in the window are in the DOM.
 */
import { useEffect, useRef, useState } from "preact/hooks";

export interface Window {
  readonly first: number;
  /** One past the last row to draw. */
  readonly last: number;
}

export const useWindow = <E extends HTMLElement>(count: number, rowHeight: number, overscan = 10): { ref: { current: E | null }; window: Window } => {
  const ref = useRef<E>(null);
  const [span, setSpan] = useState({ top: 0, height: 800 });
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let frame = 0;
    const measure = () => {
      frame = 0;
      setSpan((s) => (s.top === el.scrollTop && s.height === el.clientHeight ? s : { top: el.scrollTop, height: el.clientHeight || 800 }));
    };
    // One update per frame, however many scroll events come.
    const onScroll = () => void (frame ||= requestAnimationFrame(measure));
    measure();
    el.addEventListener("scroll", onScroll, { passive: true });
    const resize = new ResizeObserver(onScroll);
    resize.observe(el);
    return () => {
      el.removeEventListener("scroll", onScroll);
      resize.disconnect();
      cancelAnimationFrame(frame);
    };
  }, []);
  const first = Math.max(0, Math.floor(span.top / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((span.top + span.height) / rowHeight) + overscan);
  return { ref, window: { first, last } };
};
