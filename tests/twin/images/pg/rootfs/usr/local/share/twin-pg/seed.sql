-- Aurora marketplace schema (Prisma-style) and a little data, loaded at first start.
CREATE TABLE "_prisma_migrations" (
    "id"                  VARCHAR(36) PRIMARY KEY,
    "checksum"            VARCHAR(64) NOT NULL,
    "finished_at"         TIMESTAMPTZ,
    "migration_name"      VARCHAR(255) NOT NULL,
    "logs"                TEXT,
    "rolled_back_at"      TIMESTAMPTZ,
    "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
);

CREATE TYPE "Role" AS ENUM ('BUYER', 'SELLER', 'ADMIN');

CREATE TABLE "User" (
    "id"        TEXT PRIMARY KEY,
    "email"     TEXT NOT NULL UNIQUE,
    "name"      TEXT,
    "role"      "Role" NOT NULL DEFAULT 'BUYER',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE "Listing" (
    "id"         TEXT PRIMARY KEY,
    "sellerId"   TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
    "title"      TEXT NOT NULL,
    "priceCents" INTEGER NOT NULL CHECK ("priceCents" >= 0),
    "status"     TEXT NOT NULL DEFAULT 'ACTIVE',
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE "Order" (
    "id"         TEXT PRIMARY KEY,
    "listingId"  TEXT NOT NULL REFERENCES "Listing"("id"),
    "buyerId"    TEXT NOT NULL REFERENCES "User"("id"),
    "totalCents" INTEGER NOT NULL,
    "status"     TEXT NOT NULL DEFAULT 'PAID',
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "Listing_sellerId_idx" ON "Listing"("sellerId");
CREATE INDEX "Order_buyerId_idx" ON "Order"("buyerId");

INSERT INTO "_prisma_migrations" ("id", "checksum", "finished_at", "migration_name", "started_at", "applied_steps_count") VALUES
    ('2f0c9a52-5d3e-4b8e-9a41-0c1f6e1d7a01', md5('20260301120000_init') || md5('a'), '2026-03-01 12:00:05+00', '20260301120000_init', '2026-03-01 12:00:00+00', 1),
    ('7b4d1e33-0a7c-4f3e-8e55-3c2b9d8f6a02', md5('20260412093000_listings') || md5('b'), '2026-04-12 09:30:04+00', '20260412093000_listings', '2026-04-12 09:30:00+00', 1),
    ('c91e5f7a-6b2d-4c1a-b3f8-9e7d0a4c5b03', md5('20260518150000_orders') || md5('c'), '2026-05-18 15:00:06+00', '20260518150000_orders', '2026-05-18 15:00:00+00', 1);

INSERT INTO "User" ("id", "email", "name", "role") VALUES
    ('usr_01', 'admin@aurora.test', 'Aurora Admin', 'ADMIN'),
    ('usr_02', 'ana@aurora.test', 'Ana Seller', 'SELLER'),
    ('usr_03', 'bruno@aurora.test', 'Bruno Seller', 'SELLER'),
    ('usr_04', 'carla@aurora.test', 'Carla Buyer', 'BUYER'),
    ('usr_05', 'diego@aurora.test', 'Diego Buyer', 'BUYER');

INSERT INTO "Listing" ("id", "sellerId", "title", "priceCents") VALUES
    ('lst_01', 'usr_02', 'Handmade ceramic mug', 2400),
    ('lst_02', 'usr_02', 'Linen tote bag', 1800),
    ('lst_03', 'usr_03', 'Vintage camera strap', 3200),
    ('lst_04', 'usr_03', 'Walnut cutting board', 5500);

INSERT INTO "Order" ("id", "listingId", "buyerId", "totalCents") VALUES
    ('ord_01', 'lst_01', 'usr_04', 2400),
    ('ord_02', 'lst_03', 'usr_05', 3200),
    ('ord_03', 'lst_04', 'usr_04', 5500);
