/** A free TCP port on 127.0.0.1 (for servers that must be restarted on the same port). */
import { createServer } from "node:net";

export const freePort = (): Promise<number> =>
  new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolvePort(a.port) : reject(new Error("no free port"))));
    });
  });
