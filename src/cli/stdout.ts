/**
 * Writing what must not be lost to stdout: a token's text, shown once. A
 * reader that stops early (`| head`) ends other commands quietly (see
 * main.ts); here the writer hears of it instead, to say so and exit 1.
 */

let critical = 0;

/** Is a write that must not be lost under way (main.ts then leaves a closed pipe to its writer)? */
export const criticalWriteUnderWay = (): boolean => critical > 0;

/**
 * Writes `text` to stdout and answers once it is handed to the system: the
 * error if it could not be (EPIPE: the reader is gone; anything else).
 * Until `done()` is called after a write that succeeded, a closed pipe does
 * not end the process (after a failed one, never: the stream's own error
 * event comes after the callback).
 */
export const writeCritical = (text: string): Promise<{ error: Error | undefined; done(): void }> => {
  critical++;
  let ended = false;
  const answer = (error: Error | undefined) => ({
    error,
    done: () => {
      if (!ended && error === undefined) critical--;
      ended = true;
    },
  });
  return new Promise((resolve) => {
    // A stream destroyed already (an earlier EPIPE) calls back with an error too; one that cannot be written throws.
    try {
      process.stdout.write(text, (e) => resolve(answer(e ?? undefined)));
    } catch (e) {
      resolve(answer(e as Error));
    }
  });
};
