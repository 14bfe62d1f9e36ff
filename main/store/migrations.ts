/**
 * Versioned schema, one list for both stores. A migration is never edited once released: add the next one.
 * SQLite records where a file is in `PRAGMA user_version`, PostgreSQL in its `schema_version` table; each store's
 * open applies the missing ones in one transaction.
 *
 * `sql` is what SQLite runs; `postgres`, where given, is the same schema in PostgreSQL's types (SQLite's INTEGER is
 * 64-bit and REAL is a double, PostgreSQL's INTEGER is 32-bit and REAL a float: BIGINT and DOUBLE PRECISION keep
 * the values the same; BLOB would be BYTEA). Without `postgres`, both run `sql`, so write it portable.
 */
export interface Migration {
  version: number
  sql: string
  postgres?: string
}

export const migrations: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('table', 'images')),
        source_path TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        rows INTEGER NOT NULL,
        target TEXT,
        parse_json TEXT NOT NULL,
        profile_json TEXT NOT NULL,
        recipe_json TEXT NOT NULL,
        split_json TEXT NOT NULL,
        data_dir TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE RESTRICT,
        mode TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'cancelled', 'failed', 'interrupted')),
        backend TEXT NOT NULL,
        seed INTEGER NOT NULL,
        spec_json TEXT NOT NULL,
        partition_json TEXT NOT NULL,
        config_json TEXT NOT NULL,
        metrics_json TEXT,
        blocks_json TEXT,
        evaluation_json TEXT,
        timing_json TEXT,
        peak_rss INTEGER,
        error TEXT,
        owner_pid INTEGER,
        owner_host TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT
      );
      CREATE INDEX runs_dataset ON runs(dataset_id);
      CREATE TABLE epochs (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        block INTEGER NOT NULL,
        phase TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        loss REAL NOT NULL,
        accuracy REAL NOT NULL,
        val_loss REAL,
        val_accuracy REAL,
        learning_rate REAL NOT NULL,
        samples_per_sec REAL NOT NULL,
        PRIMARY KEY (run_id, seq)
      );
    `,
    postgres: `
      CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('table', 'images')),
        source_path TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        rows BIGINT NOT NULL,
        target TEXT,
        parse_json TEXT NOT NULL,
        profile_json TEXT NOT NULL,
        recipe_json TEXT NOT NULL,
        split_json TEXT NOT NULL,
        data_dir TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE RESTRICT,
        mode TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'cancelled', 'failed', 'interrupted')),
        backend TEXT NOT NULL,
        seed BIGINT NOT NULL,
        spec_json TEXT NOT NULL,
        partition_json TEXT NOT NULL,
        config_json TEXT NOT NULL,
        metrics_json TEXT,
        blocks_json TEXT,
        evaluation_json TEXT,
        timing_json TEXT,
        peak_rss BIGINT,
        error TEXT,
        owner_pid BIGINT,
        owner_host TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT
      );
      CREATE INDEX runs_dataset ON runs(dataset_id);
      CREATE TABLE epochs (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        block BIGINT NOT NULL,
        phase TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        loss DOUBLE PRECISION NOT NULL,
        accuracy DOUBLE PRECISION NOT NULL,
        val_loss DOUBLE PRECISION,
        val_accuracy DOUBLE PRECISION,
        learning_rate DOUBLE PRECISION NOT NULL,
        samples_per_sec DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (run_id, seq)
      );
    `
  },
  {
    version: 2,
    sql: `
      ALTER TABLE runs ADD COLUMN tags_json TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT '';
      CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('weights', 'onnx')),
        path TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        info_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
      );
      CREATE INDEX artifacts_run ON artifacts(run_id);
    `,
    postgres: `
      ALTER TABLE runs ADD COLUMN tags_json TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT '';
      CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('weights', 'onnx')),
        path TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        info_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
      );
      CREATE INDEX artifacts_run ON artifacts(run_id);
    `
  },
  {
    // What a run predicts; every run before this version was a classifier.
    version: 3,
    sql: `
      ALTER TABLE runs ADD COLUMN task TEXT NOT NULL DEFAULT 'classification' CHECK (task IN ('classification', 'regression'));
    `
  },
  {
    // Studies: a protocol over configurations, each member an ordinary run.
    version: 4,
    sql: `
      CREATE TABLE studies (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('compare', 'sweep')),
        protocol_json TEXT NOT NULL,
        configs_json TEXT NOT NULL,
        sweep_json TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'cancelled', 'failed', 'interrupted')),
        workers INTEGER NOT NULL,
        error TEXT,
        owner_pid INTEGER,
        owner_host TEXT,
        created_at TEXT NOT NULL,
        ended_at TEXT
      );
      CREATE TABLE study_members (
        study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        config_index INTEGER NOT NULL,
        member_index INTEGER NOT NULL,
        split_json TEXT NOT NULL,
        seed INTEGER NOT NULL,
        train_rows INTEGER NOT NULL,
        test_rows INTEGER NOT NULL,
        run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
        status TEXT NOT NULL DEFAULT 'pending'
          CHECK (status IN ('pending', 'queued', 'running', 'completed', 'cancelled', 'failed', 'interrupted')),
        error TEXT,
        PRIMARY KEY (study_id, config_index, member_index)
      );
      CREATE INDEX study_members_run ON study_members(run_id);
      CREATE INDEX studies_dataset ON studies(dataset_id);
    `,
    postgres: `
      CREATE TABLE studies (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('compare', 'sweep')),
        protocol_json TEXT NOT NULL,
        configs_json TEXT NOT NULL,
        sweep_json TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'cancelled', 'failed', 'interrupted')),
        workers BIGINT NOT NULL,
        error TEXT,
        owner_pid BIGINT,
        owner_host TEXT,
        created_at TEXT NOT NULL,
        ended_at TEXT
      );
      CREATE TABLE study_members (
        study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        config_index BIGINT NOT NULL,
        member_index BIGINT NOT NULL,
        split_json TEXT NOT NULL,
        seed BIGINT NOT NULL,
        train_rows BIGINT NOT NULL,
        test_rows BIGINT NOT NULL,
        run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
        status TEXT NOT NULL DEFAULT 'pending'
          CHECK (status IN ('pending', 'queued', 'running', 'completed', 'cancelled', 'failed', 'interrupted')),
        error TEXT,
        PRIMARY KEY (study_id, config_index, member_index)
      );
      CREATE INDEX study_members_run ON study_members(run_id);
      CREATE INDEX studies_dataset ON studies(dataset_id);
    `
  },
  {
    // What a run cost (issue 18): step tensor peaks per stage, peak RSS, wall time, examples seen. Older runs: NULL.
    // After studies' version 4.
    version: 5,
    sql: `
      ALTER TABLE runs ADD COLUMN resources_json TEXT;
    `
  },
  {
    // Studies on queue workers (issue 19). Portable SQL (SQLite and PostgreSQL): the queue a study was submitted to
    // (without credentials), which worker and which try a member's run is, and every earlier try whose worker was
    // lost (its run kept as interrupted, never counted).
    version: 6,
    sql: `
      ALTER TABLE studies ADD COLUMN queue TEXT;
      ALTER TABLE study_members ADD COLUMN worker TEXT;
      ALTER TABLE study_members ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE study_member_attempts (
        study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        config_index INTEGER NOT NULL,
        member_index INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
        worker TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (study_id, config_index, member_index, attempt)
      );
    `
  }
]
