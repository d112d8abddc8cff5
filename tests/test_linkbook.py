"""The link book: the node's durable copy of tracked links (what lets a click land without the database)."""

from __future__ import annotations

import stat
from pathlib import Path

from mailbeacon.runtime import Runtime
from mailbeacon.store import LinkBook, Store, open_store
from seeding import seed_account, seed_message


def _elsewhere(rt: Runtime) -> Runtime:
    """A runtime on the same database without a link book: another node, or an app's process."""
    return Runtime(rt.settings, open_store(rt.settings.database_url), rt.keyring, rt.clock)


def test_mirror_copies_every_link_of_every_message_page_by_page(runtime: Runtime, tmp_path: Path) -> None:
    other = _elsewhere(runtime)
    user = seed_account(other)
    seeded = [
        seed_message(other, links=[f"https://example.com/{m}/{i}?q={i}" for i in range(3)], user=user) for m in range(5)
    ]
    book_path = tmp_path / "node" / "links.db"
    node = Store(other.store.engine, LinkBook(book_path))
    assert node.mirror_links(page=2, overlap=0) == 15
    assert node.mirror_links(page=2) == 15  # the overlap is read again; copying is idempotent
    assert node.link_book is not None
    for m, s in enumerate(seeded):
        for i in range(3):
            assert node.link_book.get(s.message.id, i) == f"https://example.com/{m}/{i}?q={i}"
    assert stat.S_IMODE(book_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(book_path.parent.stat().st_mode) == 0o700
    node.link_book.close()
    other.close()


def test_a_resolved_link_brings_its_whole_message_into_the_book(runtime: Runtime, tmp_path: Path) -> None:
    other = _elsewhere(runtime)
    s = seed_message(other)
    book = LinkBook(tmp_path / "links.db")
    node = Store(other.store.engine, book)
    assert book.get(s.message.id, 0) is None
    assert node.link_url(s.message.id, 1) == "https://example.com/b?x=1&y=2"
    assert book.get(s.message.id, 0) == "https://example.com/a" and book.get(s.message.id, 2) == "https://example.org/c"
    assert node.link_url(s.message.id, 9) is None  # no such link: a 404, never a redirect
    book.close()
    other.close()


def test_a_message_recorded_on_this_node_is_in_its_book_at_once(runtime: Runtime) -> None:
    s = seed_message(runtime)
    book = runtime.store.link_book
    assert book is not None and book.path == runtime.settings.effective_data_dir / "links.db"
    assert [book.get(s.message.id, i) for i in range(3)] == runtime.store.link_urls(s.message.id)
