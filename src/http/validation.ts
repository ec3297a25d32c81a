import type { Hook } from "@hono/zod-openapi";
import { problem, zodFieldErrors } from "./problem";

/** Every route's zod validation failure becomes a 400 problem+json naming each bad field. */
export const validationHook: Hook<unknown, any, any, any> = (result, c) => {
  if (!result.success) {
    // Field names are reported as the caller spelled them ("limit", "labels.2"), whatever part of the request they came in.
    const detail = result.target === "json" ? "The request body has invalid fields." : `The request ${result.target} has invalid fields.`;
    return problem(400, detail, { errors: zodFieldErrors(result.error) });
  }
  return undefined;
};
