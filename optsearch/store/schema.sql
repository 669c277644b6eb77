-- optsearch run store, schema version 1 (stored in meta.schema_version).
-- One SQLite file per run: runs/<run-id>/run.sqlite. Plain rows and JSON text only.
-- Bump SCHEMA_VERSION in runs.py and add a migration when this changes.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every program the search made, trained or not. ids are assigned by the search in
-- order of creation, so an interrupted and resumed run has the same ids as an
-- uninterrupted one.
CREATE TABLE IF NOT EXISTS programs (
    id          INTEGER PRIMARY KEY,
    generation  INTEGER NOT NULL,
    idx         INTEGER NOT NULL,        -- position among the generation's children
    text        TEXT    NOT NULL,        -- program text (parse(text) gives it back)
    fingerprint TEXT    NOT NULL,
    parent_id   INTEGER,                 -- first parent (NULL for initial programs)
    parent2_id  INTEGER,                 -- second parent (crossover)
    mutation    TEXT    NOT NULL,        -- init, insert, delete, modify, constant, ...
    fitness     REAL    NOT NULL,
    per_task    TEXT    NOT NULL,        -- JSON list of {task, loss, best_lr_multiplier, fitness, failure}
    wall_time   REAL    NOT NULL,        -- seconds of training attributed to it (0 if not trained)
    failure     TEXT,                    -- why it scored worst (invalid, diverged, ...), or NULL
    cached_from INTEGER,                 -- id of the equal program whose score it reused
    UNIQUE (generation, idx)
);
CREATE INDEX IF NOT EXISTS programs_fingerprint ON programs (fingerprint);
CREATE INDEX IF NOT EXISTS programs_fitness ON programs (fitness);

-- Funnel: re-training of promising programs on the larger tasks.
CREATE TABLE IF NOT EXISTS funnel (
    program_id  INTEGER PRIMARY KEY REFERENCES programs (id),
    generation  INTEGER NOT NULL,
    fitness     REAL    NOT NULL,
    per_task    TEXT    NOT NULL,
    wall_time   REAL    NOT NULL,
    failure     TEXT,
    cached_from INTEGER
);

-- One row per finished generation (a DEAP Logbook record, as JSON).
CREATE TABLE IF NOT EXISTS logbook (
    generation INTEGER PRIMARY KEY,
    record     TEXT NOT NULL,
    elapsed    REAL NOT NULL             -- wall seconds since the run started (not in record:
                                         -- records must be identical across equal-seed runs)
);

-- The hall of fame after the last finished generation, best first.
CREATE TABLE IF NOT EXISTS hall_of_fame (
    rank            INTEGER PRIMARY KEY,
    program_id      INTEGER NOT NULL REFERENCES programs (id),
    funnel_fitness  REAL    NOT NULL,
    simplified_text TEXT                 -- NULL when no simplifier is installed
);
