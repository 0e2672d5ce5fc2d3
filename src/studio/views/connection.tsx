/** "reconnecting…" in the header while a push stream (changes.ts) is down: the server restarted, or the network went. */
import { useEffect, useState } from "preact/hooks";
import { onReconnecting, reconnecting } from "../changes.js";

export const ConnectionState = () => {
  const [down, setDown] = useState(reconnecting());
  useEffect(() => onReconnecting(setDown), []);
  return down ? (
    <span class="reconnecting" role="status" data-connection="down">
      reconnecting…
    </span>
  ) : null;
};
