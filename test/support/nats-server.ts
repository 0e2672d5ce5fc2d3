/**
 * Starts a real `nats-server -js` as a child process, for integration and
 * end-to-end tests. Never mocked, never skipped: without the binary the
 * tests fail loudly and say how to install it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

/** A running nats-server. */
export interface NatsServer {
  /** Client URL, e.g. `nats://127.0.0.1:40123`. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** JetStream store directory. */
  readonly storeDir: string;
  /**
   * Stops the server with SIGTERM (a clean shutdown, a few ms) and waits for
   * it to exit; removes the store directory unless the caller supplied it.
   * Idempotent.
   */
  stop(): Promise<void>;
  /**
   * Kills the server with SIGKILL, as a crash would, and waits for it to
   * exit. The store directory is kept so that a new server can be started
   * on it; `stop()` afterwards still removes it.
   */
  kill(): Promise<void>;
}

export interface StartNatsServerOptions {
  /**
   * JetStream store directory. Default: a new temporary directory, removed
   * by `stop()`. A supplied directory is never removed: pass the one of a
   * killed server to restart on the same data.
   */
  readonly storeDir?: string;
  /** Port to listen on. Default: a random free one (`-p -1`). */
  readonly port?: number;
  /** How long to wait for the server to accept connections. Default 10 s. */
  readonly startTimeoutMs?: number;
  /**
   * Text of a server configuration file, for settings that have no flag
   * (e.g. `max_payload: 65536`). Written next to the store directory.
   */
  readonly config?: string;
}

const INSTALL_HINT = "nats-server is required for the JetStream tests: apt-get install -y nats-server";

/** Where the `nats-server` binary is: PATH first, then the Debian location. */
export const findNatsServer = (): string => {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new Error(INSTALL_HINT);
};

const LISTENING = /Listening for client connections on ([^\s:]+|\[[^\]]+\]):(\d+)/;

/**
 * Starts `nats-server -js -a 127.0.0.1 -p -1 -sd <dir>` and resolves once
 * it accepts TCP connections.
 * @throws Error naming the install command when the binary is missing, or
 *   with the server's last log lines when it does not start in time.
 */
export const startNatsServer = async (options: StartNatsServerOptions = {}): Promise<NatsServer> => {
  const bin = findNatsServer();
  const ownDir = options.storeDir === undefined;
  const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), "trib-nats-")));
  const args = ["-js", "-a", "127.0.0.1", "-p", String(options.port ?? -1), "-sd", storeDir];
  let configDir: string | undefined;
  if (options.config !== undefined) {
    configDir = await mkdtemp(join(tmpdir(), "trib-nats-conf-"));
    const file = join(configDir, "nats-server.conf");
    await writeFile(file, options.config);
    // Command-line flags override the file: the address, port and store still hold.
    args.unshift("-c", file);
  }
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });

  // vitest skips global teardown on SIGINT/SIGTERM: never leave an orphan.
  const onExit = () => {
    child.kill("SIGKILL");
  };
  process.once("exit", onExit);

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  void exited.then(() => process.removeListener("exit", onExit));

  // Keep draining stderr so that the child never blocks on a full pipe; keep
  // the tail for error messages.
  const logTail: string[] = [];
  let pending = "";
  let onLine: ((line: string) => void) | undefined;
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      logTail.push(line);
      if (logTail.length > 40) logTail.shift();
      onLine?.(line);
    }
  });

  const cleanupDir = async () => {
    if (ownDir) await rm(storeDir, { recursive: true, force: true });
    if (configDir) await rm(configDir, { recursive: true, force: true });
  };

  let port: number;
  try {
    port = await waitForPort(child, exited, (f) => (onLine = f), options.startTimeoutMs ?? 10_000, logTail);
    onLine = undefined;
    await waitForTcp(port, options.startTimeoutMs ?? 10_000);
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    await cleanupDir();
    throw err;
  }

  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };

  let stopped: Promise<void> | undefined;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    storeDir,
    kill: () => signal("SIGKILL"),
    stop: () =>
      (stopped ??= (async () => {
        // A clean shutdown takes milliseconds; do not wait forever for one.
        const escalate = setTimeout(() => child.kill("SIGKILL"), 5_000);
        try {
          await signal("SIGTERM");
        } finally {
          clearTimeout(escalate);
        }
        await cleanupDir();
      })()),
  };
};

/** Resolves with the port from the server's "Listening for client connections" line. */
const waitForPort = (
  child: ChildProcess,
  exited: Promise<void>,
  listen: (f: (line: string) => void) => void,
  timeoutMs: number,
  logTail: readonly string[],
): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`nats-server ${why}; its last log lines:\n${logTail.join("\n")}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    void exited.then(() => fail(`exited early (code ${child.exitCode}, signal ${child.signalCode})`));
    listen((line) => {
      const m = LISTENING.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[2]));
      }
    });
  });

/** Retries a TCP connection to the port until it is accepted. */
const waitForTcp = async (port: number, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: "127.0.0.1", port }, () => {
        socket.end();
        resolve(true);
      });
      socket.once("error", () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server on port ${port} did not accept connections within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
