/**
 * What an agent has sent and not yet heard back about: requests of task code
 * (calls, waits, asset persists and restores) waiting for their answer, and
 * results waiting for the server's acknowledgement. All are re-sent, with
 * the same request ids, after a reconnect. Also numbers each execution's
 * calls in the order its code makes them.
 */
import type { Worker } from "node:worker_threads";
import type { AgentMessage } from "../protocol/messages.js";
import type { WorkerSlot } from "./pool.js";
import type { HostRequest } from "./context.js";

/**
 * Does the request take a position among its execution's calls? Calls of
 * targets, prompts, and durable sleeps (`suspend(ms | Date)`, whose time a
 * re-execution finds by position); a wait under `suspense` does not (it
 * happens or not depending on timing).
 */
export const numberedCall = (r: HostRequest): boolean => r.type === "submit" || r.type === "prompt" || (r.type === "suspend" && r.waitingFor === undefined);

/** A request of task code, with the worker to answer and the worker's own id for it. */
export interface PendingRequest {
  readonly slot: WorkerSlot;
  readonly worker: Worker;
  readonly id: number;
  readonly message: AgentMessage;
}

/** A result as the agent sends it: always with the request id the server acknowledges. */
export type ResultMessage = Extract<AgentMessage, { type: "succeeded" | "failed" }> & { readonly requestId: number };

export class InFlight {
  #nextRequestId = 1;
  readonly #requests = new Map<number, PendingRequest>();
  /** The requests of each execution, to drop them when it ends (a fan-out holds thousands: no scan per finished execution). */
  readonly #requestsOf = new Map<string, Set<number>>();
  /** Results by execution, until acknowledged. */
  readonly #results = new Map<string, ResultMessage>();
  readonly #resultRequests = new Map<number, string>();
  readonly #calls = new Map<string, number>();

  newRequestId(): number {
    return this.#nextRequestId++;
  }

  /** The number of the execution's next call. */
  nextCall(executionId: string): number {
    const n = (this.#calls.get(executionId) ?? 0) + 1;
    this.#calls.set(executionId, n);
    return n;
  }

  /** The execution's code has ended (or its worker went away): its calls are numbered afresh. */
  endCalls(executionId: string): void {
    this.#calls.delete(executionId);
  }

  addRequest(requestId: number, r: PendingRequest): void {
    this.#requests.set(requestId, r);
    const executionId = "executionId" in r.message ? r.message.executionId : undefined;
    if (executionId === undefined) return;
    const mine = this.#requestsOf.get(executionId);
    if (mine) mine.add(requestId);
    else this.#requestsOf.set(executionId, new Set([requestId]));
  }

  request(requestId: number): PendingRequest | undefined {
    return this.#requests.get(requestId);
  }

  requests(): Iterable<PendingRequest> {
    return this.#requests.values();
  }

  /** Drops a request (answered, or no longer wanted). */
  forget(requestId: number): void {
    const r = this.#requests.get(requestId);
    if (r === undefined) return;
    this.#requests.delete(requestId);
    const executionId = "executionId" in r.message ? r.message.executionId : undefined;
    const mine = executionId === undefined ? undefined : this.#requestsOf.get(executionId);
    if (!mine) return;
    mine.delete(requestId);
    if (mine.size === 0) this.#requestsOf.delete(executionId!);
  }

  /** Drops the requests of an execution that `which` selects. */
  forgetOf(executionId: string, which: (r: PendingRequest) => boolean): void {
    for (const id of [...(this.#requestsOf.get(executionId) ?? [])]) {
      const r = this.#requests.get(id);
      if (r && which(r)) this.forget(id);
    }
  }

  forgetWhere(which: (r: PendingRequest) => boolean): void {
    for (const [id, r] of this.#requests) if (which(r)) this.forget(id);
  }

  /** Keeps a result until the server acknowledges its request id. */
  keepResult(message: ResultMessage): void {
    this.#results.set(message.executionId, message);
    this.#resultRequests.set(message.requestId, message.executionId);
  }

  /** The result kept for an execution, if it is not acknowledged yet. */
  result(executionId: string): ResultMessage | undefined {
    return this.#results.get(executionId);
  }

  results(): Iterable<ResultMessage> {
    return this.#results.values();
  }

  get unacknowledged(): number {
    return this.#results.size;
  }

  /** Executions whose result waits for the server's acknowledgement. */
  resultExecutions(): Iterable<string> {
    return this.#results.keys();
  }

  /** The execution whose result has this request id, if it is still kept. */
  resultOf(requestId: number): string | undefined {
    return this.#resultRequests.get(requestId);
  }

  /** Drops a result: acknowledged, or refused for good. */
  dropResult(requestId: number): void {
    const executionId = this.#resultRequests.get(requestId);
    if (executionId === undefined) return;
    this.#resultRequests.delete(requestId);
    this.#results.delete(executionId);
  }

  /** The message still kept under a request id: a request, or a result. */
  message(requestId: number): AgentMessage | undefined {
    const request = this.#requests.get(requestId)?.message;
    if (request) return request;
    const executionId = this.#resultRequests.get(requestId);
    const result = executionId === undefined ? undefined : this.#results.get(executionId);
    return result?.requestId === requestId ? result : undefined;
  }
}
