/**
 * Stubs: calling a target that another repository hosts (another team's
 * agent), typed from its definition without loading its code.
 */
import type { Handle } from "./handle.js";
import { parseOptions, type TargetOptions } from "./options.js";
import { makeTarget, type Target, type TargetCore, type TargetFunction } from "./sdk.js";

/**
 * A target of another repository, called as if it were defined here:
 * `await charge(order)`, `charge.submit(order)`, `charge.with({ timeout })`.
 * Made by {@link stub}.
 */
export interface Stub<A extends readonly unknown[], R> {
  /** Schedules a step of the target and waits for its result, as a target does. */
  (...args: A): Promise<R>;
  /** The target's name in its repository. */
  readonly name: string;
  /** The repository hosting it. */
  readonly repository: string;
  /** Not known here: the server takes it from the manifest the hosting agent registered. */
  readonly kind: undefined;
  /** The options of the calls made through this stub (over the target's own). */
  readonly options: TargetOptions;
  submit(...args: A): Handle<R>;
  with(options: TargetOptions): Stub<A, R>;
}

/** The stub of a target's type (`typeof charge`), or of a function's. */
export type StubOf<T> =
  T extends Target<infer A, infer R>
    ? Stub<A, R>
    : T extends (...args: infer A) => infer R
      ? Stub<A, Awaited<R>>
      : never;

const REPOSITORY = /^[A-Za-z_][\w.-]{0,127}$/;
const NAME = /^[A-Za-z_][\w.-]{0,127}$/;

/**
 * A callable stub of target `"repository:target"`, hosted by whichever agent
 * registered that repository in the environment (its code is never loaded
 * here). Type it with the target's type, imported with `import type` only,
 * so the argument and result types are checked as for a local target:
 *
 * @example
 * import type { charge as Charge } from "@acme/payments/tasks";
 * const charge = stub<typeof Charge>("payments:charge", { retries: 2 });
 * export const checkout = workflow("checkout", async (order: Order) => {
 *   const receipt = await charge(order); // typed: Promise<Receipt>
 * });
 *
 * Whether the target is a task (a step of this run) or a workflow (a run of
 * its own, linked to the caller) the server knows from the hosting agent's
 * manifest. A target no agent has registered is refused when it is called
 * (`unknown target payments:charge: …`), as are arguments that do not fit
 * its parameters. A stub exported by a module is not a target of that
 * module's repository.
 *
 * @param ref `repository:target`.
 * @param options the options of calls made through the stub (over the
 *   target's own, as `.with()`).
 * @throws {TypeError} for a `ref` that is not `repository:target`.
 * @throws {InvalidOptionError} naming an invalid option.
 */
export function stub<T extends Target<never, unknown> | TargetFunction = never>(ref: string, options?: TargetOptions): StubOf<T> {
  const at = typeof ref === "string" ? ref.lastIndexOf(":") : -1;
  const repository = at > 0 ? ref.slice(0, at) : "";
  const name = at > 0 ? ref.slice(at + 1) : "";
  if (!REPOSITORY.test(repository) || !NAME.test(name)) {
    throw new TypeError(
      `stub(): expected "repository:target" (each a letter or _, then letters, digits, _ . -), got ${JSON.stringify(ref)}`,
    );
  }
  const core: TargetCore = {
    name,
    kind: "task", // unused: a stub's kind is the hosting manifest's (the stub reports `kind: undefined`)
    fn: () => {
      throw new Error(`stub "${ref}" has no code here: call it inside an execution, or test ${name} where it is defined`);
    },
    given: Object.freeze({ ...(options ?? {}) }),
    parsed: parseOptions(options, `stub "${ref}"`),
    repository,
    stub: true,
  };
  return makeTarget(core, core.parsed, core.given) as unknown as StubOf<T>;
}
