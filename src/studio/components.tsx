/** Small pieces every view uses: links that stay in the app, status badges, error messages. */
import type { ComponentChildren } from "preact";
import { ApiError } from "./api.js";
import { navigate } from "./hooks.js";
import { forStudio } from "./messages.js";

/** A link to a place of the app: followed without a reload (a modified click still opens a tab). */
export const Link = (props: { href: string; children: ComponentChildren; class?: string; title?: string }) => (
  <a
    href={props.href}
    class={props.class}
    title={props.title}
    onClick={(e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(props.href);
    }}
  >
    {props.children}
  </a>
);

export const Status = ({ status }: { status: string }) => <span class={`status status-${status}`}>{status}</span>;

/** A check made here, before anything was sent (a field that is not JSON): no answer was awaited, none is missing. */
export class NotSent extends ApiError {
  constructor(message: string) {
    super(0, message);
  }
}

/** An API error as a message: the server's own words, and what the status means. */
export const ErrorBox = ({ error, what }: { error: ApiError; what?: string }) => {
  const kind =
    error instanceof NotSent
      ? "not sent"
      : error.status === 401 ? "not signed in" : error.status === 403 ? "not allowed" : error.status === 404 ? "not found" : error.status === 0 ? "no answer" : `error ${error.status}`;
  return (
    <div class="error" role="alert">
      <strong>{what ? `${what}: ${kind}` : kind}</strong> — {forStudio(error.message)}
    </div>
  );
};

export const Loading = () => <p class="muted">Loading…</p>;
