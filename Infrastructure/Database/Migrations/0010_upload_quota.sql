-- The daily upload quota beside the token quota, in the same row per subject and UTC day: files and bytes uploaded
-- (session files and assistants' knowledge). An upload reserves its file and bytes before the PDF is read, and gives
-- them back when it stores nothing.
ALTER TABLE usage_daily
    ADD COLUMN uploads      int NOT NULL DEFAULT 0,
    ADD COLUMN upload_bytes bigint NOT NULL DEFAULT 0;
