"""Named sources: which senders a listener takes messages from, and under which name.

A source is a name and the networks (CIDRs) its senders are in, written
``name=CIDR,CIDR;name=CIDR`` (``LISTEN_SOURCES``). A message is taken from the first source
whose networks hold the sender's address; from no source, it is dropped and counted (``denied``).
The source's name is the message's ``_key``: the ingest rate limit holds per source.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_CACHE_LIMIT = 65536  # addresses remembered; a flood from many addresses only costs lookups


@dataclass(frozen=True)
class Source:
    name: str
    networks: tuple[Network, ...]

    @property
    def rate_key(self) -> str:
        """What the ingest rate limit counts this source's messages under (API keys use their id)."""
        return f"listener:{self.name}"


class Sources:
    def __init__(self, sources: list[Source]) -> None:
        self.sources = tuple(sources)
        self._cache: dict[str, Source | None] = {}

    @classmethod
    def parse(cls, text: str) -> Sources:
        """From ``name=CIDR,CIDR;name=CIDR`` (ValueError naming what is wrong)."""
        sources, names = [], set()
        for part in (part.strip() for part in text.split(";")):
            if not part:
                continue
            name, equals, cidrs = part.partition("=")
            name = name.strip()
            if not equals or not name or not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"{part!r}: write a source as name=CIDR[,CIDR...] (name: letters, digits, - and _)")
            if name in names:
                raise ValueError(f"source {name!r} is named twice")
            names.add(name)
            try:
                networks = tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs.split(",") if cidr.strip())
            except ValueError as error:
                raise ValueError(f"source {name!r}: {error}") from None
            if not networks:
                raise ValueError(f"source {name!r}: no networks")
            sources.append(Source(name, networks))
        if not sources:
            raise ValueError("no sources: every sender would be refused")
        return cls(sources)

    def of(self, address: str) -> Source | None:
        """The source ``address`` sends as, or None when it is in no source's networks."""
        try:
            return self._cache[address]
        except KeyError:
            pass
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        found = next((source for source in self.sources
                      if any(ip.version == network.version and ip in network for network in source.networks)), None)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[address] = found
        return found
