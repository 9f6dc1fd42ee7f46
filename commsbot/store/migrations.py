"""Numbered schema migrations. Append only: a number, once released, never changes.

Each script runs inside one transaction together with its row in ``migrations``,
so a store is always at exactly one version.
"""

from __future__ import annotations

_CONTENT = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cities (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    local_name TEXT,
    country TEXT NOT NULL,
    region TEXT
);
CREATE TABLE institutions (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    city TEXT NOT NULL REFERENCES cities(slug),
    lead_partner INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE themes (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE practices (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    city TEXT NOT NULL REFERENCES cities(slug),
    theme TEXT NOT NULL REFERENCES themes(slug),
    summary TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    url TEXT,
    creative_sectors TEXT NOT NULL DEFAULT '[]',
    beneficiary_sectors TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    language TEXT NOT NULL DEFAULT 'en',
    image TEXT,
    status TEXT NOT NULL DEFAULT 'published',
    example INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX practices_city_theme ON practices (city, theme);
CREATE VIRTUAL TABLE practices_fts USING fts5 (
    title, summary, body, tags, content='practices', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER practices_ai AFTER INSERT ON practices BEGIN
    INSERT INTO practices_fts (rowid, title, summary, body, tags)
    VALUES (new.id, new.title, new.summary, new.body, new.tags);
END;
CREATE TRIGGER practices_ad AFTER DELETE ON practices BEGIN
    INSERT INTO practices_fts (practices_fts, rowid, title, summary, body, tags)
    VALUES ('delete', old.id, old.title, old.summary, old.body, old.tags);
END;
CREATE TRIGGER practices_au AFTER UPDATE ON practices BEGIN
    INSERT INTO practices_fts (practices_fts, rowid, title, summary, body, tags)
    VALUES ('delete', old.id, old.title, old.summary, old.body, old.tags);
    INSERT INTO practices_fts (rowid, title, summary, body, tags)
    VALUES (new.id, new.title, new.summary, new.body, new.tags);
END;
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    city TEXT REFERENCES cities(slug),
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    participants INTEGER,
    outcome TEXT NOT NULL DEFAULT '',
    url TEXT,
    status TEXT NOT NULL DEFAULT 'published',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE newsletters (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    number INTEGER,
    published TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    url TEXT,
    body TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'published',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE news (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    guid TEXT NOT NULL UNIQUE,
    feed_url TEXT,
    link TEXT,
    title TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    published TEXT,
    city TEXT REFERENCES cities(slug),
    theme TEXT REFERENCES themes(slug),
    status TEXT NOT NULL DEFAULT 'published',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

_OUTBOX = """
CREATE TABLE announcements (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    link TEXT,
    template TEXT NOT NULL DEFAULT 'announcement',
    created_at TEXT NOT NULL
);
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    item_type TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    item_ref TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'pending_approval', 'queued', 'sending',
        'sent', 'failed', 'cancelled', 'unknown')),
    text TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL DEFAULT '{}',
    item_version TEXT,
    not_before TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    remote_id TEXT,
    remote_url TEXT,
    sent_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- The one rule that matters most: an item reaches a channel once.
    UNIQUE (item_type, item_id, channel)
);
CREATE INDEX posts_due ON posts (channel, status, not_before);
CREATE TABLE engagement (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    favourites INTEGER NOT NULL DEFAULT 0,
    boosts INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    reactions INTEGER NOT NULL DEFAULT 0,
    clicks INTEGER NOT NULL DEFAULT 0,
    observed_at TEXT NOT NULL
);
CREATE INDEX engagement_post ON engagement (post_id, observed_at);
"""

_AUDIENCE = """
CREATE TABLE channel_state (
    channel TEXT PRIMARY KEY,
    paused_until TEXT,
    down_reason TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE subscribers (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'telegram')),
    address TEXT NOT NULL,
    frequency TEXT NOT NULL CHECK (frequency IN ('weekly', 'monthly')),
    cities TEXT NOT NULL DEFAULT '[]',
    themes TEXT NOT NULL DEFAULT '[]',
    token TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unsubscribed', 'bounced')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    unsubscribed_at TEXT,
    UNIQUE (channel, address)
);
CREATE TABLE digests (
    id INTEGER PRIMARY KEY,
    frequency TEXT NOT NULL,
    period TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (frequency, period)
);
CREATE TABLE digest_deliveries (
    id INTEGER PRIMARY KEY,
    digest_id INTEGER NOT NULL REFERENCES digests(id),
    subscriber_id INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'unknown', 'skipped')),
    error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (digest_id, subscriber_id)
);
CREATE TABLE bot_queries (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    chat_hash TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX bot_queries_at ON bot_queries (at);
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT,
    error TEXT
);
CREATE INDEX job_runs_job ON job_runs (job, started_at);
"""

_FEEDS = """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('news', 'newsletter')),
    city TEXT REFERENCES cities(slug),
    theme TEXT REFERENCES themes(slug),
    -- 'config' feeds follow the config file; 'cli' feeds were added with `feeds add`.
    source TEXT NOT NULL DEFAULT 'cli' CHECK (source IN ('config', 'cli')),
    etag TEXT,
    last_modified TEXT,
    last_status INTEGER,
    last_error TEXT,
    last_warning TEXT,
    error_count INTEGER NOT NULL DEFAULT 0,
    next_poll_at TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    disabled_reason TEXT,
    last_polled_at TEXT,
    last_success_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- Every entry ever seen, by identity (guid, else link, else a hash of title and date):
-- what makes an entry stored once and an edit an update, never a second post.
CREATE TABLE feed_entries (
    id INTEGER PRIMARY KEY,
    item_type TEXT NOT NULL CHECK (item_type IN ('news', 'newsletter')),
    identity TEXT NOT NULL,
    feed_id INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
    item_id INTEGER,
    fingerprint TEXT NOT NULL,
    skipped TEXT,
    first_seen_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (item_type, identity)
);
"""

# A post deleted on its platform keeps its history and its last known engagement; this says
# when the platform was first seen to have lost it (#8).
_REMOTE_DELETED = """
ALTER TABLE posts ADD COLUMN remote_deleted_at TEXT;
"""

_SERVICE = """
-- What the running service has scheduled, so that ``commsbot status`` (another
-- process) can show each schedule's next run. Emptied when the service stops.
CREATE TABLE schedule_state (
    schedule TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    next_run_at TEXT,
    updated_at TEXT NOT NULL
);
"""

# When a post was last handed to its channel: a retry later than the platform's
# deduplication window must first look for what that attempt may have published.
_ATTEMPTED_AT = """
ALTER TABLE posts ADD COLUMN attempted_at TEXT;
UPDATE posts SET attempted_at = updated_at WHERE attempts > 0;
"""

# Digests (#7): each digest knows the period it covers, so "new since the last digest" is a
# query; deliveries gain the channel, attempts and a 'retry' state (a 4xx SMTP answer or a
# Telegram 429), which needs the table rebuilt: SQLite cannot alter a CHECK constraint.
_DIGESTS = """
ALTER TABLE digests ADD COLUMN starts_at TEXT;
ALTER TABLE digests ADD COLUMN ends_at TEXT;
CREATE TABLE digest_deliveries_7 (
    id INTEGER PRIMARY KEY,
    digest_id INTEGER NOT NULL REFERENCES digests(id),
    subscriber_id INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
    channel TEXT,
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'retry', 'failed', 'unknown',
        'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    remote_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    sent_at TEXT,
    UNIQUE (digest_id, subscriber_id)
);
INSERT INTO digest_deliveries_7 (id, digest_id, subscriber_id, status, error, created_at,
    updated_at, sent_at)
    SELECT id, digest_id, subscriber_id, status, error, created_at, created_at, sent_at
    FROM digest_deliveries;
DROP TABLE digest_deliveries;
ALTER TABLE digest_deliveries_7 RENAME TO digest_deliveries;
CREATE INDEX digest_deliveries_subscriber ON digest_deliveries (subscriber_id, status);
CREATE INDEX subscribers_due ON subscribers (frequency, status);
"""

_BOT_LOOKUPS = """
-- Telegram reports reactions by message id: the post is found from it without a scan.
CREATE INDEX posts_remote ON posts (channel, remote_id);
-- Bot pages of published practices, newest first (the rowid ends every index), and
-- their counts, read from an index alone: milliseconds with 50,000 practices.
CREATE INDEX practices_status ON practices (status);
CREATE INDEX practices_status_city ON practices (status, city);
CREATE INDEX practices_status_theme ON practices (status, theme);
CREATE INDEX practices_status_city_theme ON practices (status, city, theme);
"""

# Movement tracking (#10): public statuses using the campaign hashtags or mentioning our
# account, as read from Mastodon (only the author's public handle and profile url, no
# names or pictures); where each timeline was read up to; audience sizes over time.
_MOVEMENT = """
CREATE TABLE movement_statuses (
    id INTEGER PRIMARY KEY,
    remote_id TEXT NOT NULL UNIQUE,
    acct TEXT NOT NULL,
    account_url TEXT NOT NULL,
    created_at TEXT NOT NULL,
    language TEXT,
    url TEXT,
    favourites INTEGER NOT NULL DEFAULT 0,
    boosts INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    own INTEGER NOT NULL DEFAULT 0,
    mention INTEGER NOT NULL DEFAULT 0,
    -- Our post this status replies to, when it is one of the outbox's.
    reply_to_post INTEGER REFERENCES posts(id) ON DELETE SET NULL,
    first_seen_at TEXT NOT NULL,
    counts_at TEXT NOT NULL
);
CREATE INDEX movement_statuses_created ON movement_statuses (created_at);
CREATE INDEX movement_statuses_acct ON movement_statuses (acct COLLATE NOCASE);
CREATE TABLE movement_tags (
    status_id INTEGER NOT NULL REFERENCES movement_statuses(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (status_id, tag)
) WITHOUT ROWID;
-- How far each timeline has been read: 'tag:<name>' or 'mentions'.
CREATE TABLE movement_cursors (
    source TEXT PRIMARY KEY,
    newest_id TEXT,
    read_at TEXT NOT NULL
);
CREATE TABLE audience_snapshots (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('audience', 'subscribers')),
    size INTEGER NOT NULL,
    observed_at TEXT NOT NULL
);
CREATE INDEX audience_snapshots_at ON audience_snapshots (observed_at);
"""

# What each long-running part of the service (the bot) is doing, for `commsbot status`.
_PART_STATE = """
CREATE TABLE part_state (
    part TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('running', 'failed')),
    detail TEXT,
    since TEXT NOT NULL
) WITHOUT ROWID;
"""

# The web console (#17): users with a role, sessions and one-time sign-in links (kept as
# digests), failed sign-ins for throttling, and each post's audit trail.
_CONSOLE = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('officer', 'coordinator', 'admin')),
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE sessions (
    digest TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE sign_in_links (
    digest TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL
);
CREATE TABLE sign_in_failures (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL COLLATE NOCASE,
    address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX sign_in_failures_name ON sign_in_failures (name, at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, at);
CREATE TABLE post_audit (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX post_audit_post ON post_audit (post_id, at);
-- The queue page sorts and filters by time across every account; the calendar reads
-- which account holds each time from this index alone.
CREATE INDEX posts_not_before ON posts (not_before, channel, status);
CREATE INDEX posts_status_time ON posts (status, not_before);
-- Stats read the posts sent in a period: without this, every post is scanned.
CREATE INDEX posts_status_sent ON posts (status, sent_at);
"""

# Accounts (#16): a channel is an account named by the officer, of a platform kind. Each
# account that ever had a post or a subscriber is remembered with its kind, so statistics by
# platform and ``channels`` still show an account removed from the config, with its posts.
# Subscribers lose the CHECK that named the two digest channels ('email', 'telegram'): a
# digest account is named in the config (SQLite cannot alter a CHECK: the table is rebuilt,
# ids and every row kept).
_ACCOUNTS = """
CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
-- Before accounts, a channel's name was its kind.
INSERT OR IGNORE INTO accounts (name, kind, first_seen_at, last_seen_at)
    SELECT channel, channel, min(created_at), max(updated_at) FROM posts GROUP BY channel;
INSERT OR IGNORE INTO accounts (name, kind, first_seen_at, last_seen_at)
    SELECT channel, channel, min(created_at), max(updated_at) FROM subscribers GROUP BY channel;
CREATE TABLE subscribers_14 (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    frequency TEXT NOT NULL CHECK (frequency IN ('weekly', 'monthly')),
    cities TEXT NOT NULL DEFAULT '[]',
    themes TEXT NOT NULL DEFAULT '[]',
    token TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unsubscribed', 'bounced')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    unsubscribed_at TEXT,
    UNIQUE (channel, address)
);
INSERT INTO subscribers_14 SELECT * FROM subscribers;
DROP TABLE subscribers;
ALTER TABLE subscribers_14 RENAME TO subscribers;
CREATE INDEX subscribers_due ON subscribers (frequency, status);
"""

# Migrations that rebuild a table other tables refer to: they run with foreign keys off, as
# SQLite's documented procedure asks, or dropping the old table would fire the children's
# ON DELETE actions (digest deliveries would lose their subscriber).
WITHOUT_FOREIGN_KEYS = {14, 20}

# The bot's chat-hash salt leaves the store (and so every later backup): it comes from
# salt_env or a salt file now. The hashes already stored stay, but no longer match new
# ones: a chat seen before the upgrade counts as a new chat after it, and nobody holding a
# backup made from now on can test old or new hashes against a chat id.
_SALT_OUT_OF_STORE = """
DELETE FROM meta WHERE key = 'bot_chat_salt';
"""

# Movement per account (#16): each Mastodon account that tracks the movement reads the
# hashtags and its own mentions with cursors of its own, and keeps the statuses it read (a
# status id is only unique on one server, and two accounts may read the same status). The
# rows read before belong to the one account that read them: the store's only Mastodon
# account if it knows one, else the account named mastodon (before #16 the only one).
_MOVEMENT_ACCOUNTS = """
CREATE TEMP TABLE movement_reader AS SELECT coalesce(
    (SELECT min(name) FROM accounts WHERE kind = 'mastodon'
        HAVING count(*) = 1), 'mastodon') AS name;
CREATE TABLE movement_statuses_20 (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    acct TEXT NOT NULL,
    account_url TEXT NOT NULL,
    created_at TEXT NOT NULL,
    language TEXT,
    url TEXT,
    favourites INTEGER NOT NULL DEFAULT 0,
    boosts INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    own INTEGER NOT NULL DEFAULT 0,
    mention INTEGER NOT NULL DEFAULT 0,
    reply_to_post INTEGER REFERENCES posts(id) ON DELETE SET NULL,
    first_seen_at TEXT NOT NULL,
    counts_at TEXT NOT NULL,
    UNIQUE (account, remote_id)
);
INSERT INTO movement_statuses_20 (id, account, remote_id, acct, account_url, created_at,
    language, url, favourites, boosts, replies, own, mention, reply_to_post, first_seen_at,
    counts_at)
    SELECT id, (SELECT name FROM movement_reader), remote_id, acct, account_url, created_at,
    language, url, favourites, boosts, replies, own, mention, reply_to_post, first_seen_at,
    counts_at FROM movement_statuses;
DROP TABLE movement_statuses;
ALTER TABLE movement_statuses_20 RENAME TO movement_statuses;
CREATE INDEX movement_statuses_created ON movement_statuses (created_at);
CREATE INDEX movement_statuses_acct ON movement_statuses (acct COLLATE NOCASE);
CREATE TABLE movement_cursors_20 (
    account TEXT NOT NULL,
    source TEXT NOT NULL,
    newest_id TEXT,
    read_at TEXT NOT NULL,
    PRIMARY KEY (account, source)
);
INSERT INTO movement_cursors_20 (account, source, newest_id, read_at)
    SELECT (SELECT name FROM movement_reader), source, newest_id, read_at
    FROM movement_cursors;
DROP TABLE movement_cursors;
ALTER TABLE movement_cursors_20 RENAME TO movement_cursors;
DROP TABLE movement_reader;
"""

# When each channel first took part in a run: content already in the store then is
# backlog for it (posted only by the backlog policy's say). A channel that has posted
# before the upgrade counts as enabled since its first post.
_CHANNEL_ENABLED = """
CREATE TABLE channel_enabled (
    channel TEXT PRIMARY KEY,
    first_enabled_at TEXT NOT NULL
);
INSERT INTO channel_enabled (channel, first_enabled_at)
    SELECT channel, min(created_at) FROM posts GROUP BY channel;
"""

# Feed items (#14): an entry's identity counts within its own feed only, so a partner whose
# feed reuses another feed's guid or link gets an item of its own and never changes the
# other's; the feed's or entry's language and, for feeds that ask for it, its categories
# (the item's tags, a JSON list) are kept with the item.
_FEED_ITEMS = """
CREATE TABLE feed_entries_13 (
    id INTEGER PRIMARY KEY,
    item_type TEXT NOT NULL CHECK (item_type IN ('news', 'newsletter')),
    -- The feed the entry came from, kept when the feed itself is removed.
    feed_url TEXT NOT NULL,
    identity TEXT NOT NULL,
    feed_id INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
    item_id INTEGER,
    fingerprint TEXT NOT NULL,
    skipped TEXT,
    first_seen_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (item_type, feed_url, identity)
);
INSERT INTO feed_entries_13 (id, item_type, feed_url, identity, feed_id, item_id, fingerprint,
    skipped, first_seen_at, updated_at)
    SELECT e.id, e.item_type, COALESCE(f.url, ''), e.identity, e.feed_id, e.item_id,
        e.fingerprint, e.skipped, e.first_seen_at, e.updated_at
    FROM feed_entries AS e LEFT JOIN feeds AS f ON f.id = e.feed_id;
DROP TABLE feed_entries;
ALTER TABLE feed_entries_13 RENAME TO feed_entries;

CREATE TABLE news_13 (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    guid TEXT NOT NULL,
    feed_url TEXT,
    link TEXT,
    title TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    published TEXT,
    city TEXT REFERENCES cities(slug),
    theme TEXT REFERENCES themes(slug),
    status TEXT NOT NULL DEFAULT 'published',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    language TEXT,
    tags TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO news_13 (id, slug, guid, feed_url, link, title, summary, published, city, theme,
    status, created_at, updated_at)
    SELECT id, slug, guid, feed_url, link, title, summary, published, city, theme, status,
        created_at, updated_at
    FROM news;
DROP TABLE news;
ALTER TABLE news_13 RENAME TO news;
-- A guid is unique within its feed; news imported by hand (no feed) share one namespace.
CREATE UNIQUE INDEX news_feed_guid ON news (COALESCE(feed_url, ''), guid);
CREATE INDEX news_guid ON news (guid);

ALTER TABLE newsletters ADD COLUMN language TEXT;
ALTER TABLE newsletters ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
-- Whether a feed's categories become its items' hashtags ([[feeds]] hashtags_from_categories).
ALTER TABLE feeds ADD COLUMN hashtags_from_categories INTEGER NOT NULL DEFAULT 0;
"""

# The ten languages (#19): translations of items' text fields (one row per item and
# language, searched through their own full-text index), each chat's chosen language (by
# the salted chat hash, as bot statistics keep chats), a subscriber's language, and the
# names a city is known by in other languages (exonyms: Pilsen, Warschau, Lissabon).
_LANGUAGES = """
CREATE TABLE translations (
    id INTEGER PRIMARY KEY,
    item_type TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    language TEXT NOT NULL,
    title TEXT,
    summary TEXT,
    body TEXT,
    outcome TEXT,
    image_alt TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (item_type, item_id, language)
);
CREATE VIRTUAL TABLE translations_fts USING fts5 (
    title, summary, body, outcome, content='translations', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER translations_ai AFTER INSERT ON translations BEGIN
    INSERT INTO translations_fts (rowid, title, summary, body, outcome)
    VALUES (new.id, new.title, new.summary, new.body, new.outcome);
END;
CREATE TRIGGER translations_ad AFTER DELETE ON translations BEGIN
    INSERT INTO translations_fts (translations_fts, rowid, title, summary, body, outcome)
    VALUES ('delete', old.id, old.title, old.summary, old.body, old.outcome);
END;
CREATE TRIGGER translations_au AFTER UPDATE ON translations BEGIN
    INSERT INTO translations_fts (translations_fts, rowid, title, summary, body, outcome)
    VALUES ('delete', old.id, old.title, old.summary, old.body, old.outcome);
    INSERT INTO translations_fts (rowid, title, summary, body, outcome)
    VALUES (new.id, new.title, new.summary, new.body, new.outcome);
END;
CREATE TABLE chat_languages (
    chat_hash TEXT PRIMARY KEY,
    language TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
ALTER TABLE subscribers ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE cities ADD COLUMN aliases TEXT NOT NULL DEFAULT '[]';
"""

# Bluesky counts quotes (a repost with a post of one's own) apart from reposts.
_ENGAGEMENT_QUOTES = """
ALTER TABLE engagement ADD COLUMN quotes INTEGER NOT NULL DEFAULT 0;
"""

# The ten languages, continued (#19): the language an announcement is written in (its
# translations are rows of ``translations``), a console user's language, and full-text
# search of events, newsletters and news.
_ANNOUNCEMENT_LANGUAGES = """
ALTER TABLE announcements ADD COLUMN language TEXT;
ALTER TABLE users ADD COLUMN language TEXT;
"""
# Events, newsletters and news searchable as practices are: full-text indexes of their
# own text beside their translations', diacritics folded; filled from what is stored.
_SEARCHABLE = """
CREATE VIRTUAL TABLE events_fts USING fts5 (
    title, outcome, content='events', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER events_ai AFTER INSERT ON events BEGIN
    INSERT INTO events_fts (rowid, title, outcome) VALUES (new.id, new.title, new.outcome);
END;
CREATE TRIGGER events_ad AFTER DELETE ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, title, outcome)
        VALUES ('delete', old.id, old.title, old.outcome);
END;
CREATE TRIGGER events_au AFTER UPDATE ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, title, outcome)
        VALUES ('delete', old.id, old.title, old.outcome);
    INSERT INTO events_fts (rowid, title, outcome) VALUES (new.id, new.title, new.outcome);
END;
INSERT INTO events_fts (events_fts) VALUES ('rebuild');
CREATE VIRTUAL TABLE newsletters_fts USING fts5 (
    title, summary, body, content='newsletters', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER newsletters_ai AFTER INSERT ON newsletters BEGIN
    INSERT INTO newsletters_fts (rowid, title, summary, body)
        VALUES (new.id, new.title, new.summary, new.body);
END;
CREATE TRIGGER newsletters_ad AFTER DELETE ON newsletters BEGIN
    INSERT INTO newsletters_fts (newsletters_fts, rowid, title, summary, body)
        VALUES ('delete', old.id, old.title, old.summary, old.body);
END;
CREATE TRIGGER newsletters_au AFTER UPDATE ON newsletters BEGIN
    INSERT INTO newsletters_fts (newsletters_fts, rowid, title, summary, body)
        VALUES ('delete', old.id, old.title, old.summary, old.body);
    INSERT INTO newsletters_fts (rowid, title, summary, body)
        VALUES (new.id, new.title, new.summary, new.body);
END;
INSERT INTO newsletters_fts (newsletters_fts) VALUES ('rebuild');
CREATE VIRTUAL TABLE news_fts USING fts5 (
    title, summary, content='news', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER news_ai AFTER INSERT ON news BEGIN
    INSERT INTO news_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
CREATE TRIGGER news_ad AFTER DELETE ON news BEGIN
    INSERT INTO news_fts (news_fts, rowid, title, summary)
        VALUES ('delete', old.id, old.title, old.summary);
END;
CREATE TRIGGER news_au AFTER UPDATE ON news BEGIN
    INSERT INTO news_fts (news_fts, rowid, title, summary)
        VALUES ('delete', old.id, old.title, old.summary);
    INSERT INTO news_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
INSERT INTO news_fts (news_fts) VALUES ('rebuild');
"""

# The console's and the CLI's stats (#17): one row per sent post with what the figures
# group by and its latest engagement snapshot, kept by triggers so that whatever writes
# posts, engagement or items (the service, an import, a restore) leaves it right. Stats
# then read one contiguous stretch of an index instead of a lookup per post.
_POST_STATS_ROW = """
SELECT p.id, p.sent_at, p.channel, p.item_type,
    coalesce(pr.city, ev.city, nw.city), coalesce(pr.theme, nw.theme),
    coalesce(e.favourites, 0), coalesce(e.boosts, 0), coalesce(e.replies, 0),
    coalesce(e.reactions, 0), p.remote_deleted_at IS NOT NULL, e.id, e.observed_at{quotes}
FROM posts p
LEFT JOIN engagement e ON e.id = (SELECT x.id FROM engagement x WHERE x.post_id = p.id
    ORDER BY x.observed_at DESC, x.id DESC LIMIT 1)
LEFT JOIN practices pr ON p.item_type = 'practice' AND pr.id = p.item_id
LEFT JOIN events ev ON p.item_type = 'event' AND ev.id = p.item_id
LEFT JOIN news nw ON p.item_type = 'news' AND nw.id = p.item_id
WHERE {sent} AND p.sent_at IS NOT NULL AND {where}"""


# Migration 26 adds Bluesky's quotes as the table's last column: the row then ends with them.
_QUOTES_COLUMN = ", coalesce(e.quotes, 0)"


def _post_stats_row(where: str, quotes: str, sent: str = "p.status = 'sent'") -> str:
    """The rows of the sent posts ``where`` selects, in the table's column order."""
    return _POST_STATS_ROW.format(where=where, quotes=quotes, sent=sent)


def post_stats_rows(where: str) -> str:
    """The ``post_stats`` rows of the sent posts ``where`` selects by id, in the newest
    schema's shape: what the triggers and ``posts.record_outcomes`` write. A migration that
    changes the table's columns changes this as well."""
    # By the primary key: along the sent posts' index, a batch of ids would read every
    # post ever sent (the planner has no statistics to know better).
    return _post_stats_row(where, _QUOTES_COLUMN, sent="+p.status = 'sent'")


def _post_stats_keep(where: str, quotes: str) -> str:
    """Rebuild the rows of the posts that ``where`` selects (in a trigger: by new./old.)."""
    return (
        "DELETE FROM post_stats WHERE post_id IN (SELECT p.id FROM posts p WHERE "
        f"{where});\nINSERT INTO post_stats {_post_stats_row(where, quotes)};"
    )


def _on_item(table: str, kind: str, columns: str, quotes: str, *, marked: bool = False) -> str:
    """An item's city or theme changed, or the item came or went: its posts follow
    (``marked``: replacing the triggers, and marking the rows' days, migration 34)."""
    where = f"p.item_type = '{kind}' AND p.item_id = {{row}}.id"
    keep = _post_stats_marked(where) if marked else _post_stats_keep(where, quotes)
    drop = "DROP TRIGGER post_stats_{table}_{name};\n" if marked else ""
    return "\n".join(
        drop.format(table=table, name=name)
        + f"CREATE TRIGGER post_stats_{table}_{name} AFTER {event} ON {table} BEGIN\n"
        f"{keep.format(row=row)}\nEND;"
        for name, event, row in (
            ("ai", "INSERT", "new"),
            ("au", f"UPDATE OF id, {columns}", "new"),
            ("ad", "DELETE", "old"),
        )
    )


def _post_stats_triggers(quotes: str) -> str:
    """The triggers that keep ``post_stats`` as posts, engagement and items change."""
    # Migration 25's engagement trigger predates quotes; 26's copies them too.
    also_quotes = ", quotes = new.quotes" if quotes else ""
    return f"""CREATE TRIGGER post_stats_posts_ai AFTER INSERT ON posts BEGIN
{_post_stats_keep("p.id = new.id", quotes)}
END;
CREATE TRIGGER post_stats_posts_au AFTER UPDATE OF status, sent_at, channel, item_type,
    item_id, remote_deleted_at ON posts BEGIN
DELETE FROM post_stats WHERE post_id = old.id;
{_post_stats_keep("p.id = new.id", quotes)}
END;
CREATE TRIGGER post_stats_posts_ad AFTER DELETE ON posts BEGIN
DELETE FROM post_stats WHERE post_id = old.id;
END;
-- A newer snapshot replaces the counts (ties: the later row), as stats have always read.
CREATE TRIGGER post_stats_engagement_ai AFTER INSERT ON engagement BEGIN
UPDATE post_stats SET favourites = new.favourites, boosts = new.boosts,
    replies = new.replies, reactions = new.reactions{also_quotes}, engagement_id = new.id,
    observed_at = new.observed_at
WHERE post_id = new.post_id AND (engagement_id IS NULL OR new.observed_at > observed_at
    OR (new.observed_at = observed_at AND new.id > engagement_id));
END;
CREATE TRIGGER post_stats_engagement_au AFTER UPDATE ON engagement BEGIN
{_post_stats_keep("p.id IN (old.post_id, new.post_id)", quotes)}
END;
CREATE TRIGGER post_stats_engagement_ad AFTER DELETE ON engagement BEGIN
{_post_stats_keep("p.id = old.post_id", quotes)}
END;
{_on_item("practices", "practice", "city, theme", quotes)}
{_on_item("events", "event", "city", quotes)}
{_on_item("news", "news", "city, theme", quotes)}
"""


_POST_STATS = f"""
CREATE TABLE post_stats (
    post_id INTEGER PRIMARY KEY,
    sent_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    item_type TEXT NOT NULL,
    city TEXT,
    theme TEXT,
    favourites INTEGER NOT NULL,
    boosts INTEGER NOT NULL,
    replies INTEGER NOT NULL,
    reactions INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    engagement_id INTEGER,
    observed_at TEXT
);
-- Covering: a period's figures are read from the index alone.
CREATE INDEX post_stats_sent ON post_stats (sent_at, channel, item_type, city, theme,
    favourites, boosts, replies, reactions, deleted);
INSERT INTO post_stats {_post_stats_row("1", "")};
{_post_stats_triggers("")}"""

# Alerts (#20): one row per problem while it lasts (a partial unique index keeps one open
# alert per problem, so a problem seen by every run is alerted once and one that comes back
# later is a new alert), one delivery row per (message, recipient) written before the send,
# as digests do, and the days whose daily summary was made.
_ALERTS = """
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    problem TEXT NOT NULL,
    kind TEXT NOT NULL,
    facts TEXT NOT NULL DEFAULT '{}',
    opened_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    notified_at TEXT,
    resolved_at TEXT
);
CREATE UNIQUE INDEX alerts_open ON alerts (problem) WHERE resolved_at IS NULL;
CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY,
    message TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    alerts TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'retry', 'failed', 'unknown')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    error TEXT,
    remote_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (message, channel, recipient)
);
CREATE TABLE alert_summaries (
    day TEXT PRIMARY KEY,
    made_at TEXT NOT NULL,
    alerts INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Compose's link card finds the item a link points to (#17).
_LINK_INDEXES = """
CREATE INDEX IF NOT EXISTS practices_url ON practices(url);
CREATE INDEX IF NOT EXISTS events_url ON events(url);
CREATE INDEX IF NOT EXISTS newsletters_url ON newsletters(url);
CREATE INDEX IF NOT EXISTS news_link ON news(link);
"""

# Bluesky (#18): a practice's further images (a JSON list of paths or URLs), after its
# ``image``, since Bluesky shows up to four a post; and ``post_stats`` (migration 25)
# gains quotes, which Bluesky counts apart from reposts, kept by the same triggers made
# anew (SQLite cannot alter a trigger) and filled from each post's latest snapshot.
_DROP_POST_STATS_TRIGGERS = "\n".join(
    f"DROP TRIGGER post_stats_{table}_{event};"
    for table in ("posts", "engagement", "practices", "events", "news")
    for event in ("ai", "au", "ad")
)
_BLUESKY_IMAGES_QUOTES = f"""
ALTER TABLE practices ADD COLUMN images TEXT NOT NULL DEFAULT '[]';
ALTER TABLE post_stats ADD COLUMN quotes INTEGER NOT NULL DEFAULT 0;
UPDATE post_stats SET quotes = coalesce(
    (SELECT e.quotes FROM engagement e WHERE e.id = post_stats.engagement_id), 0);
DROP INDEX post_stats_sent;
CREATE INDEX post_stats_sent ON post_stats (sent_at, channel, item_type, city, theme,
    favourites, boosts, replies, reactions, quotes, deleted);
{_DROP_POST_STATS_TRIGGERS}
{_post_stats_triggers(_QUOTES_COLUMN)}"""

# Only a sent post has a ``post_stats`` row, yet 25's and 26's triggers rebuilt it on every
# change of a post's status: queued -> sending -> sent cost two rebuilds (and the insert a
# third), with a lookup of its latest snapshot and its item each, about a third of a
# 10,000-post run's store time (#15). Now they run only when the post is or was sent; a
# post's first ``sent`` writes its row once.
_POST_STATS_WHEN_SENT = f"""
DROP TRIGGER post_stats_posts_ai;
DROP TRIGGER post_stats_posts_au;
CREATE TRIGGER post_stats_posts_ai AFTER INSERT ON posts WHEN new.status = 'sent' BEGIN
INSERT OR REPLACE INTO post_stats {_post_stats_row("p.id = new.id", _QUOTES_COLUMN)};
END;
CREATE TRIGGER post_stats_posts_au AFTER UPDATE OF status, sent_at, channel, item_type,
    item_id, remote_deleted_at ON posts WHEN old.status = 'sent' OR new.status = 'sent' BEGIN
DELETE FROM post_stats WHERE post_id = old.id;
INSERT OR REPLACE INTO post_stats {_post_stats_row("p.id = new.id", _QUOTES_COLUMN)};
END;"""

# The insert, the claim and the record of a 10,000-post run (#15): the statistics read the
# posts sent in a period, so their index holds sent posts alone, and a claim (queued ->
# sending) or a retry (back to queued) no longer moves an entry in it. Every query that
# read posts_status_sent says status = 'sent', so it reads this one. A post has a remote id
# once sent: the lookup by it (channel = ? AND remote_id = ?) reads the index of those
# only, which a new post no longer enters.
_POSTS_PARTIAL_INDEXES = """
DROP INDEX posts_status_sent;
CREATE INDEX posts_sent ON posts (status, sent_at) WHERE status = 'sent';
DROP INDEX posts_remote;
CREATE INDEX posts_remote ON posts (channel, remote_id) WHERE remote_id IS NOT NULL;
"""

# A post's move from sending to sent is the end of a claim, which ``posts.record_outcomes``
# alone writes (nothing else moves a post out of sending but to unknown): it adds the
# batch's post_stats rows in one statement, about a third of the record's time less than
# the trigger's rebuild row by row (#15). The trigger keeps every other change: a post
# sent by an import, moved in time, deleted on its platform, or no longer sent.
_POST_STATS_BY_BATCH = f"""
DROP TRIGGER post_stats_posts_au;
CREATE TRIGGER post_stats_posts_au AFTER UPDATE OF status, sent_at, channel, item_type,
    item_id, remote_deleted_at ON posts
    WHEN old.status = 'sent' OR (new.status = 'sent' AND old.status <> 'sending') BEGIN
DELETE FROM post_stats WHERE post_id = old.id;
INSERT OR REPLACE INTO post_stats {post_stats_rows("p.id = new.id")};
END;"""

# The console keeps each week's Stats cells and reads a week again only when one of its
# post_stats rows changed (#17): every write to post_stats marks the UTC day of the rows it
# touched with a new random number (a row replaced in place marks the day it had before
# as well). Random rather than counted, so that a store put back from a backup under a
# running console can never show marks equal to those it kept.
_POST_STATS_DAYS = """
CREATE TABLE post_stats_days (
    day TEXT PRIMARY KEY,
    mark INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO post_stats_days
    SELECT substr(sent_at, 1, 10) AS day, random() FROM post_stats GROUP BY day;
CREATE TRIGGER post_stats_days_bi BEFORE INSERT ON post_stats BEGIN
UPDATE post_stats_days SET mark = random()
    WHERE day = (SELECT substr(sent_at, 1, 10) FROM post_stats WHERE post_id = new.post_id);
END;
CREATE TRIGGER post_stats_days_ai AFTER INSERT ON post_stats BEGIN
INSERT OR REPLACE INTO post_stats_days VALUES (substr(new.sent_at, 1, 10), random());
END;
CREATE TRIGGER post_stats_days_au AFTER UPDATE ON post_stats BEGIN
INSERT OR REPLACE INTO post_stats_days VALUES (substr(old.sent_at, 1, 10), random());
INSERT OR REPLACE INTO post_stats_days VALUES (substr(new.sent_at, 1, 10), random());
END;
CREATE TRIGGER post_stats_days_ad AFTER DELETE ON post_stats BEGIN
INSERT OR REPLACE INTO post_stats_days VALUES (substr(old.sent_at, 1, 10), random());
END;
"""

# An enabled account the running service could not open (its server unreachable at start,
# a token refused): why, kept so that `commsbot status` and the console's Today page say
# so while the service tries it again before each job. Cleared when it opens.
_CHANNEL_UNOPENED = """
ALTER TABLE channel_state ADD COLUMN unopened TEXT;
"""


# post_stats' own insert triggers marked a row's day once a row: a 10,000-post run's
# record marked the same day 10,000 times, with a lookup of the row each time (#15). Now
# whatever inserts post_stats rows marks their days itself: the triggers of posts,
# engagement and items below after their rows (a row they replace is deleted first, and
# post_stats' delete trigger marks its day), and ``posts.record_outcomes`` once a batch.
# post_stats' update and delete triggers stay.
def _post_stats_marked(where: str) -> str:
    """Rebuild the rows of the posts ``where`` selects, then mark the days they are on."""
    rebuilt = _post_stats_keep(where, _QUOTES_COLUMN)
    return f"{rebuilt}\n{mark_post_stats_days(f'SELECT p.id FROM posts p WHERE {where}')};"


def mark_post_stats_days(post_ids: str) -> str:
    """Mark the days of the ``post_stats`` rows of the posts ``post_ids`` selects."""
    return (
        "INSERT OR REPLACE INTO post_stats_days SELECT day, random() FROM (SELECT DISTINCT "
        f"substr(sent_at, 1, 10) AS day FROM post_stats WHERE post_id IN ({post_ids}))"
    )


# A post inserted as sent: no delete first, whose trigger (even unfired) would make SQLite
# keep a statement journal for every post inserted; the day of a row replaced is marked
# before it is replaced instead.
_POST_INSERTED_SENT = (
    "UPDATE post_stats_days SET mark = random() WHERE day = (SELECT substr(sent_at, 1, 10) "
    "FROM post_stats WHERE post_id = new.id);\n"
    f"INSERT OR REPLACE INTO post_stats {post_stats_rows('p.id = new.id')};\n"
    f"{mark_post_stats_days('new.id')};"
)

_POST_STATS_DAYS_BY_WRITER = f"""
DROP TRIGGER post_stats_days_bi;
DROP TRIGGER post_stats_days_ai;
DROP TRIGGER post_stats_posts_ai;
CREATE TRIGGER post_stats_posts_ai AFTER INSERT ON posts WHEN new.status = 'sent' BEGIN
{_POST_INSERTED_SENT}
END;
DROP TRIGGER post_stats_posts_au;
CREATE TRIGGER post_stats_posts_au AFTER UPDATE OF status, sent_at, channel, item_type,
    item_id, remote_deleted_at ON posts
    WHEN old.status = 'sent' OR (new.status = 'sent' AND old.status <> 'sending') BEGIN
DELETE FROM post_stats WHERE post_id = old.id;
{_post_stats_marked("p.id = new.id")}
END;
DROP TRIGGER post_stats_engagement_au;
CREATE TRIGGER post_stats_engagement_au AFTER UPDATE ON engagement BEGIN
{_post_stats_marked("p.id IN (old.post_id, new.post_id)")}
END;
DROP TRIGGER post_stats_engagement_ad;
CREATE TRIGGER post_stats_engagement_ad AFTER DELETE ON engagement BEGIN
{_post_stats_marked("p.id = old.post_id")}
END;
{_on_item("practices", "practice", "city, theme", _QUOTES_COLUMN, marked=True)}
{_on_item("events", "event", "city", _QUOTES_COLUMN, marked=True)}
{_on_item("news", "news", "city, theme", _QUOTES_COLUMN, marked=True)}
"""

# A post's status change moved its entry in posts_not_before (not_before, channel, status)
# as well (#15): a claim and a record each moved three index entries a post. The index of
# times reads the status (and the account) from the row instead: the calendar's and the
# queue's reads by time look up the posts they count or show, a few milliseconds on a busy
# store's month, and follow the index's order (time, then id) without a sort.
_POSTS_NOT_BEFORE_ALONE = """
DROP INDEX posts_not_before;
CREATE INDEX posts_not_before ON posts (not_before);
"""

# (number, name, SQL script). Later capabilities append theirs.

# An alert's "resolved" message is told once (#20): alerts resolved before this are
# counted as told, so an upgrade does not send all-clears for old problems.
_ALERTS_RESOLVED_TOLD = """
ALTER TABLE alerts ADD COLUMN resolved_notified_at TEXT;
UPDATE alerts SET resolved_notified_at = resolved_at WHERE resolved_at IS NOT NULL;
"""

# A part that fails to start is told on the console's Today page and by an alert (#17):
# which part it is and for which account (what to check), since when it has been failing
# (the first failure in a row) and when it is tried next.
_PART_FAILURES = """
ALTER TABLE part_state ADD COLUMN kind TEXT;
ALTER TABLE part_state ADD COLUMN account TEXT;
ALTER TABLE part_state ADD COLUMN failing_since TEXT;
ALTER TABLE part_state ADD COLUMN next_try TEXT;
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "content", _CONTENT),
    (2, "outbox", _OUTBOX),
    (3, "audience", _AUDIENCE),
    (4, "feeds", _FEEDS),
    (5, "service", _SERVICE),
    (6, "bot_lookups", _BOT_LOOKUPS),
    (7, "digests", _DIGESTS),
    (8, "remote_deleted", _REMOTE_DELETED),
    (9, "posts_attempted_at", _ATTEMPTED_AT),
    (10, "movement", _MOVEMENT),
    (11, "part_state", _PART_STATE),
    (12, "salt_out_of_store", _SALT_OUT_OF_STORE),
    (13, "feed_items", _FEED_ITEMS),
    (14, "accounts", _ACCOUNTS),
    (15, "console", _CONSOLE),
    (16, "languages", _LANGUAGES),
    (17, "engagement_quotes", _ENGAGEMENT_QUOTES),
    (18, "channel_enabled", _CHANNEL_ENABLED),
    (20, "movement_accounts", _MOVEMENT_ACCOUNTS),
    (21, "alerts", _ALERTS),
    (22, "channel_unopened", _CHANNEL_UNOPENED),
    (24, "link_indexes", _LINK_INDEXES),
    (25, "post_stats", _POST_STATS),
    (26, "bluesky_images_quotes", _BLUESKY_IMAGES_QUOTES),
    (27, "languages_continued", _ANNOUNCEMENT_LANGUAGES + _SEARCHABLE),
    (28, "post_stats_when_sent", _POST_STATS_WHEN_SENT),
    (29, "post_stats_days", _POST_STATS_DAYS),
    (30, "posts_partial_indexes", _POSTS_PARTIAL_INDEXES),
    (31, "post_stats_by_batch", _POST_STATS_BY_BATCH),
    (32, "alerts_resolved_told", _ALERTS_RESOLVED_TOLD),
    (33, "part_failures", _PART_FAILURES),
    (34, "post_stats_days_by_writer", _POST_STATS_DAYS_BY_WRITER),
    (35, "posts_not_before_alone", _POSTS_NOT_BEFORE_ALONE),
]
