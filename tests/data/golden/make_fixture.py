"""Regenerate tests/data/golden/sample.warc.wet.gz: a tiny WET file written by us (warcio).

Run: python tests/data/golden/make_fixture.py   (the texts below are original, written for this fixture)
"""

from __future__ import annotations

import io
from pathlib import Path

from warcio.warcwriter import WARCWriter

LIGHTHOUSE = (
    "The old lighthouse on the northern cape was switched off in the spring of 1998.\n"
    "For more than a century its lamp had guided fishing boats past the reef.\n"
    "Local volunteers now open the tower to visitors on summer weekends.\n"
    "From the gallery you can see three islands and, on clear days, the mainland hills.\n"
    "The keeper's cottage holds a small museum of charts, lenses and logbooks.\n"
    "Entry is free, although the volunteers welcome donations for the roof repairs."
)
BREAD = (
    "Baking sourdough at home takes patience more than skill.\n"
    "A starter needs flour, water and a warm kitchen for about a week.\n"
    "Feed it every day and discard half, or it will turn sour and sluggish.\n"
    "When it doubles within six hours it is ready to leaven a loaf.\n"
    "Mix the dough the evening before, fold it a few times, and let it rest overnight.\n"
    "Bake it in a heavy covered pot so that the crust stays thin and crackles as it cools."
)
TRAINS = (
    "The branch line to the valley closed to passengers in 1965 and to freight a decade later.\n"
    "Much of the track bed has since become a walking and cycling path.\n"
    "Two of the stations survive as private houses, and a third is a cafe.\n"
    "The viaduct over the river was restored in 2011 with money from a public appeal.\n"
    "Walkers can follow the route for eleven miles without crossing a road.\n"
    "Information boards along the way describe the engines that once worked the line."
)
GERMAN = (
    "Der kleine Hafen liegt am Ende einer schmalen Bucht und ist im Winter fast leer.\n"
    "Im Sommer legen dort jeden Morgen die Boote zu den Inseln ab.\n"
    "Die Fischer verkaufen ihren Fang direkt am Kai, solange der Vorrat reicht.\n"
    "Hinter dem Hafen beginnt ein Wanderweg, der an den Klippen entlang nach Norden führt.\n"
    "Bei klarem Wetter sieht man von dort oben bis zum Leuchtturm auf dem Kap.\n"
    "Im Dorf gibt es zwei Gasthäuser und eine kleine Bäckerei."
)
NEAR_BREAD = BREAD.replace("a week", "seven days").replace("heavy covered pot", "heavy lidded pot")

RECORDS = [
    ("http://cape.example.org/lighthouse", "2019-07-01T10:00:00Z", LIGHTHOUSE),
    ("http://kitchen.example.net/sourdough", "2021-03-15T08:30:00Z", BREAD),
    ("http://rail.example.com/branch-line", "2023-09-09T12:00:00Z", TRAINS),
    ("http://hafen.example.de/", "2020-05-05T05:05:05Z", GERMAN),
    ("http://mirror.example.net/sourdough", "2022-01-20T09:00:00Z", BREAD),
    ("http://copy.example.org/bread", "2024-02-02T02:02:02Z", NEAR_BREAD),
    ("http://empty.example.org/", "2024-02-02T02:02:02Z", ""),
]


def main() -> None:
    path = Path(__file__).with_name("sample.warc.wet.gz")
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tailguard tests"}))
        for i, (url, date, text) in enumerate(RECORDS):
            record = writer.create_warc_record(
                url,
                "conversion",
                payload=io.BytesIO(text.encode("utf-8")),
                warc_content_type="text/plain",
                warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-00000000000{i}>"},
            )
            writer.write_record(record)


if __name__ == "__main__":
    main()
