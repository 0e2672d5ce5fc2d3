/** `GET /api/whoami`; `GET | POST /api/projects/{p}/tokens`, `POST …/tokens/{id}/revoke`. */
import type { Handlers } from "../context.js";
import { HttpError } from "../http-io.js";

const notYet = () => {
  throw new HttpError(501, "tokens are not served yet");
};

export const tokenRoutes = {
  whoami: () => ({ auth: false }),
  listTokens: notYet,
  createToken: notYet,
  revokeToken: notYet,
} satisfies Partial<Handlers>;
