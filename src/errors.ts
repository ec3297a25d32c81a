/**
 * Domain errors. Domain functions throw these; the HTTP error handler turns them into
 * problem+json. They never carry tokens, secrets or request bodies.
 */

export interface FieldError {
  /** Dotted path of the offending field, e.g. "labels.2" or "body". */
  field: string;
  message: string;
}

export class NotFound extends Error {
  override readonly name = "NotFound";
  constructor(what: string, id: string) {
    super(`${what} ${id} does not exist`);
  }
}

/** A local change the project's sync direction does not allow (e.g. editing an inbound project's issue). */
export class DirectionRefused extends Error {
  override readonly name = "DirectionRefused";
}

/** The request conflicts with the resource's current state (e.g. editing an orphaned issue). */
export class StateConflict extends Error {
  override readonly name = "StateConflict";
}

export class ValidationFailed extends Error {
  override readonly name = "ValidationFailed";
  readonly errors: FieldError[];
  constructor(errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join("; "));
    this.errors = errors;
  }
}

/**
 * The project may not reach its tracker now: its credential was rejected, its GitHub App
 * installation is suspended or gone, or its repository was removed from the installation.
 */
export class ProjectPaused extends Error {
  override readonly name = "ProjectPaused";
}

/** Configuration the Worker cannot run without (a missing or malformed secret). */
export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

/** Well-formed fields that cannot be accepted together (422), e.g. a new tracker origin without a new token. */
export class Unprocessable extends Error {
  override readonly name = "Unprocessable";
  readonly errors: FieldError[];
  constructor(errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join("; "));
    this.errors = errors;
  }
}

/** The caller's API token lacks the scope the route needs (403). */
export class Forbidden extends Error {
  override readonly name = "Forbidden";
}

/** An edit sent with `If-Match` for a version the resource no longer has (412). */
export class PreconditionFailed extends Error {
  override readonly name = "PreconditionFailed";
}

/** A dependency of the Worker (its queue) refused the work for now; the caller may retry (503). */
export class ServiceUnavailable extends Error {
  override readonly name = "ServiceUnavailable";
}
