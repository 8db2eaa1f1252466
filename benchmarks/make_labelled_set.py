"""Write the feed-style variants of the labelled dedup set in samples/news.

The base articles (samples/news/*.txt) are written by hand. For some of them this script
writes what real feeds produce from one story:

- ``--page.html``: the same text inside another site's page (header, navigation,
  related-article block, comment form, footer);
- ``--syndicated.txt``: a partner's copy with another headline, one sentence removed, one
  added, small edits, and the partner's own trailer; the French ones in Windows-1252;
- ``--truncated.txt``: a paywalled copy with the first two thirds of the text.

It also writes ``labels.json``: every document's group (its base article). Run it again
after editing a base article:  python benchmarks/make_labelled_set.py
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent.parent / "samples" / "news"
VARIANTS = CORPUS / "variants"

# Base articles that get variants; the others stay alone (and the same-topic ones among
# them are the hard negatives).
WITH_VARIANTS = [
    "en-tram-extension",
    "en-chip-plant",
    "en-heatwave",
    "en-library",
    "fr-greve-ter",
    "fr-vendanges",
    "fr-levee-fonds",
    "fr-crue",
]

SITES: dict[str, dict[str, Any]] = {
    "en": {
        "site": "The Northern Courier",
        "nav": ["Home", "News", "Business", "Sport", "Culture", "Opinion"],
        "related": "Related articles",
        "comments": "Leave a comment",
        "footer": "© The Northern Courier. All rights reserved. Privacy policy · Terms",
        "partner": "Distributed by the Valley Press Agency.",
        "added": "The announcement was confirmed in a statement published later the same day.",
        "paywall": "Subscribe to read the rest of this article.",
        "more": "Read more",
        "trailer": "More stories",
        "author": "Staff reporter",
    },
    "fr": {
        "site": "Le Journal du Val",
        "nav": ["Accueil", "Actualités", "Économie", "Sports", "Culture", "Opinions"],
        "related": "Articles connexes",
        "comments": "Laisser un commentaire",
        "footer": "© Le Journal du Val. Tous droits réservés. Mentions légales · Contact",
        "partner": "Diffusé par l'Agence Val-Presse.",
        "added": "L'information a été confirmée par un communiqué publié dans la journée.",
        "paywall": "Abonnez-vous pour lire la suite de cet article.",
        "more": "Lire la suite",
        "trailer": "À lire aussi",
        "author": "La rédaction",
    },
}

# Small edits a copy desk makes: typography and spelling variants.
EDITS = [
    ("’", "'"),
    (" percent", "%"),
    ("Monday", "Monday,"),
    ("« ", '"'),
    (" »", '"'),
]


def read_base(name: str) -> tuple[str, list[str]]:
    lines = [ln for ln in (CORPUS / f"{name}.txt").read_text("utf-8").splitlines() if ln]
    return lines[0], lines[1:]


def headlines(exclude: str) -> list[str]:
    titles = []
    for path in sorted(CORPUS.glob("*.txt")):
        if path.stem != exclude:
            titles.append(read_base(path.stem)[0])
    return titles[:3]


def page(name: str, lang: str, title: str, paragraphs: list[str]) -> str:
    site = SITES[lang]
    esc = html.escape
    nav = "".join(
        f'<li><a href="/{esc(item.lower())}/">{esc(item)}</a></li>' for item in site["nav"]
    )
    body = "\n".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    related = "".join(
        f'<li><a href="/news/{i}/">{esc(t)}</a><p>{esc(t)}…</p></li>'
        for i, t in enumerate(headlines(name))
    )
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{esc(title)} | {esc(site["site"])}</title>
<meta property="og:site_name" content="{esc(site["site"])}">
<meta property="og:title" content="{esc(title)}">
<meta name="author" content="{esc(site["author"])}">
<meta property="article:published_time" content="2026-10-14T07:30:00+02:00">
</head>
<body>
<header><div class="logo">{esc(site["site"])}</div><nav><ul>{nav}</ul></nav></header>
<main>
<article>
<h1>{esc(title)}</h1>
<div class="byline">{esc(site["author"])} · 14/10/2026</div>
{body}
</article>
<aside class="related"><h2>{esc(site["related"])}</h2><ul>{related}</ul></aside>
<section class="comments"><h2>{esc(site["comments"])}</h2>
<form><textarea name="comment"></textarea><button>OK</button></form></section>
</main>
<footer><p>{esc(site["footer"])}</p></footer>
</body>
</html>
"""


def syndicated(lang: str, title: str, paragraphs: list[str]) -> str:
    site = SITES[lang]
    edited = list(paragraphs)
    # Drop the last sentence of the third paragraph.
    sentences = edited[2].split(". ")
    if len(sentences) > 1:
        edited[2] = ". ".join(sentences[:-1]).rstrip(".") + "."
    edited.insert(len(edited) - 1, site["added"])
    text = "\n".join([f"{title} ({site['partner'].split()[-1].rstrip('.')})", *edited])
    for old, new in EDITS:
        text = text.replace(old, new)
    trailer = [site["partner"], site["trailer"], *headlines("")[:2]]
    return text + "\n" + "\n".join(trailer) + "\n"


def truncated(lang: str, title: str, paragraphs: list[str]) -> str:
    site = SITES[lang]
    words_total = sum(len(p.split()) for p in paragraphs)
    kept, count = [], 0
    for paragraph in paragraphs:
        if count >= math.ceil(words_total * 2 / 3):
            break
        kept.append(paragraph)
        count += len(paragraph.split())
    return "\n".join([title, *kept, site["paywall"], site["more"]]) + "\n"


def main() -> None:
    VARIANTS.mkdir(exist_ok=True)
    labels: dict[str, str] = {}
    for path in sorted(CORPUS.glob("*.txt")):
        labels[path.name] = path.stem
    for name in WITH_VARIANTS:
        lang = name.split("-", 1)[0]
        title, paragraphs = read_base(name)
        outputs = {
            f"{name}--page.html": (page(name, lang, title, paragraphs), "utf-8"),
            # French partners still publish in Windows-1252.
            f"{name}--syndicated.txt": (
                syndicated(lang, title, paragraphs),
                "cp1252" if lang == "fr" else "utf-8",
            ),
            f"{name}--truncated.txt": (truncated(lang, title, paragraphs), "utf-8"),
        }
        for filename, (text, encoding) in outputs.items():
            (VARIANTS / filename).write_bytes(text.encode(encoding))
            labels[f"variants/{filename}"] = name
    (CORPUS / "labels.json").write_text(json.dumps(labels, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(labels)} labels, {len(WITH_VARIANTS) * 3} variants in {VARIANTS}")


if __name__ == "__main__":
    main()
