/** Faults of the projection layer. */

/** A stored document (or the store's meta data) does not decode. Rebuild. */
export class ProjectionCorrupt extends Error {
  override readonly name = "ProjectionCorrupt";
  constructor(
    readonly projection: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(
      `projection ${projection} is corrupt at key ${JSON.stringify(key)}: run 'tributary projections rebuild' to rebuild it from the log`,
      options,
    );
  }
}

/** Commits were offered out of order: the store must only ever see the log in sequence. */
export class ProjectionGap extends Error {
  override readonly name = "ProjectionGap";
  constructor(
    readonly checkpoint: number,
    readonly offered: number,
  ) {
    super(`projection store is at sequence ${checkpoint} and was offered sequence ${offered}: commits must come in order`);
  }
}
