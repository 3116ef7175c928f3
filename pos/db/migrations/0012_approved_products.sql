-- Approved product lists (GTINs a program pays for, as eWIC retailers receive them).
-- Each upload is a new version, written whole in one transaction; the current list is the
-- highest version, so a reader in one statement sees either the old list or the new one.

CREATE TABLE approved_product_lists (
    program_id  uuid NOT NULL REFERENCES programs (id),
    version     integer NOT NULL CHECK (version > 0),
    items       integer NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, version)
);

CREATE TABLE approved_products (
    program_id  uuid NOT NULL,
    version     integer NOT NULL,
    gtin        text NOT NULL,
    description text NOT NULL DEFAULT '',
    PRIMARY KEY (program_id, version, gtin),
    FOREIGN KEY (program_id, version) REFERENCES approved_product_lists (program_id, version)
);

-- What each rule added to its decision on a line (e.g. the approved list's version), kept
-- with the line: {"<rule>": {...}}.
ALTER TABLE redemption_lines ADD COLUMN detail jsonb;
