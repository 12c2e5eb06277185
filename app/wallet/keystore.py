"""Ethereum V3 keystore files (the JSON that geth, MetaMask and MyEtherWallet export).

Both directions are implemented here and tested both ways against eth-account. Every parameter
is checked before decrypting, so that a file from another program with unusual
settings (PBKDF2, an odd scrypt ``n``, a huge memory cost) gets a clear message instead of a stack
trace or an out-of-memory kill.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import unicodedata
import uuid
from typing import Any

from eth_keys import keys
from eth_utils import keccak

from app.wallet.errors import CorruptWalletFile, UnsupportedKeystore, WrongPassword

DEFAULT_SCRYPT_N = 2**18  # the geth/eth-account "standard" setting
MAX_KDF_MEMORY = 1 << 30  # refuse files that would need more than 1 GiB to open
MAX_PBKDF2_ROUNDS = 10_000_000


def scrypt_key(password: str, salt: bytes, n: int, r: int, p: int, dklen: int = 32) -> bytes:
    """OpenSSL's scrypt (several times faster than eth-account's), allowed exactly the memory its
    settings need: OpenSSL refuses more than 32 MiB unless told. The sealed recovery phrase
    (``secretbox``) uses it too."""
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=dklen,
        maxmem=128 * r * (n + p + 2) + (1 << 20),
    )


def encrypt_keystore(
    private_key: bytes, password: str, *, scrypt_n: int = DEFAULT_SCRYPT_N
) -> dict[str, Any]:
    """A standard V3 keystore (scrypt r=8 p=1 + AES-128-CTR + keccak MAC) for ``private_key``.

    Built here on OpenSSL's scrypt, which is several times faster than the pure-Python-wrapped one
    eth-account uses, so creating or re-encrypting a wallet at the standard cost stays quick.
    """
    salt, iv = os.urandom(32), os.urandom(16)
    r, p = 8, 1
    dk = scrypt_key(password, salt, scrypt_n, r, p)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # first use

    enc = Cipher(algorithms.AES(dk[:16]), modes.CTR(iv)).encryptor()
    ciphertext = enc.update(private_key) + enc.finalize()
    address = keys.PrivateKey(private_key).public_key.to_address()
    return {
        "address": address.removeprefix("0x").lower(),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": iv.hex()},
            "ciphertext": ciphertext.hex(),
            "kdf": "scrypt",
            "kdfparams": {"dklen": 32, "n": scrypt_n, "p": p, "r": r, "salt": salt.hex()},
            "mac": keccak(dk[16:32] + ciphertext).hex(),
        },
        "id": str(uuid.uuid4()),
        "version": 3,
    }


def password_variants(password: str) -> list[str]:
    """The password as typed, then its other Unicode normal forms.

    "é" can arrive as one code point or as "e" + accent depending on the keyboard and the system
    (macOS favours the decomposed form); a keystore made on one machine must open on another.
    """
    out = [password]
    if not password.isascii():
        for form in ("NFC", "NFD"):
            v = unicodedata.normalize(form, password)
            if v not in out:
                out.append(v)
    return out


def parse_keystore(text: str | bytes) -> dict[str, Any]:
    """Parse keystore JSON; anything that is not a V3 keystore gets a plain explanation."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptWalletFile(
            "This file is not a keystore: it is not valid JSON. It may be damaged or incomplete.",
            detail=str(exc),
        ) from exc
    if not isinstance(data, dict):
        raise CorruptWalletFile("This file is not a keystore (expected a JSON object).")
    version = data.get("version")
    if version != 3:
        raise UnsupportedKeystore(
            f"This keystore uses format version {version!r}; only version 3 (the one geth and "
            "MetaMask export) can be imported."
        )
    if not isinstance(data.get("crypto", data.get("Crypto")), dict):
        raise CorruptWalletFile("This keystore is missing its encrypted key section.")
    return data


def keystore_address(data: dict[str, Any]) -> str | None:
    addr = data.get("address")
    if isinstance(addr, str) and len(addr.removeprefix("0x")) == 40:
        from eth_utils import to_checksum_address

        try:
            return str(to_checksum_address("0x" + addr.removeprefix("0x")))
        except ValueError:
            return None
    return None


def _hex(section: dict[str, Any], key: str) -> bytes:
    value = section.get(key)
    if not isinstance(value, str):
        raise CorruptWalletFile(f"This keystore is missing the field \u201c{key}\u201d.")
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError as exc:
        raise CorruptWalletFile(f"This keystore's field \u201c{key}\u201d is damaged.") from exc


def _int_param(params: dict[str, Any], key: str) -> int:
    value = params.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UnsupportedKeystore(
            f"This keystore has an invalid key-derivation setting {key}={value!r}."
        )
    return value


def _derive_key(crypto: dict[str, Any], password: str) -> bytes:
    kdf = crypto.get("kdf")
    params = crypto.get("kdfparams")
    if not isinstance(params, dict):
        raise CorruptWalletFile("This keystore is missing its key-derivation settings.")
    salt = _hex(params, "salt")
    dklen = _int_param(params, "dklen")
    if dklen < 32:
        raise UnsupportedKeystore(f"This keystore derives a {dklen}-byte key; 32 are needed.")
    pw = password.encode("utf-8")
    if kdf == "scrypt":
        n, r, p = (_int_param(params, k) for k in ("n", "r", "p"))
        if n < 2 or n & (n - 1):
            raise UnsupportedKeystore(
                f"This keystore's scrypt setting n={n} is not a power of two, so it cannot be "
                "opened. Export the key again from the program that made it."
            )
        memory = 128 * r * (n + p + 2)
        if memory > MAX_KDF_MEMORY:
            raise UnsupportedKeystore(
                f"Opening this keystore would need {memory >> 20} MiB of memory (scrypt n={n}, "
                f"r={r}); the limit is {MAX_KDF_MEMORY >> 20} MiB. Export it again with standard "
                "settings."
            )
        try:
            return scrypt_key(password, salt, n, r, p, dklen)
        except (ValueError, MemoryError) as exc:
            raise UnsupportedKeystore(
                "This keystore's scrypt settings cannot be used on this computer.", detail=str(exc)
            ) from exc
    if kdf == "pbkdf2":
        prf = params.get("prf")
        if prf != "hmac-sha256":
            raise UnsupportedKeystore(
                f"This keystore uses PBKDF2 with {prf!r}; only hmac-sha256 is supported."
            )
        c = _int_param(params, "c")
        if c > MAX_PBKDF2_ROUNDS:
            raise UnsupportedKeystore(
                f"This keystore asks for {c} PBKDF2 rounds; the limit is {MAX_PBKDF2_ROUNDS}."
            )
        return hashlib.pbkdf2_hmac("sha256", pw, salt, c, dklen)
    raise UnsupportedKeystore(
        f"This keystore uses the key-derivation method {kdf!r}; only scrypt and pbkdf2 work."
    )


def decrypt_keystore(data: dict[str, Any] | str | bytes, password: str) -> bytes:
    """The 32-byte private key inside a V3 keystore, or a typed error explaining why not."""
    data = parse_keystore(data) if not isinstance(data, dict) else parse_keystore(json.dumps(data))
    crypto: dict[str, Any] = data.get("crypto") or data["Crypto"]
    cipher = crypto.get("cipher")
    if cipher != "aes-128-ctr":
        raise UnsupportedKeystore(
            f"This keystore uses the cipher {cipher!r}; only aes-128-ctr is supported."
        )
    ciphertext = _hex(crypto, "ciphertext")
    mac = _hex(crypto, "mac")
    params = crypto.get("cipherparams")
    if not isinstance(params, dict):
        raise CorruptWalletFile("This keystore is missing its cipher settings.")
    iv = _hex(params, "iv")
    if len(iv) != 16:
        raise CorruptWalletFile("This keystore's cipher settings are damaged (bad IV length).")
    for candidate in password_variants(password):
        dk = _derive_key(crypto, candidate)
        if hmac.compare_digest(keccak(dk[16:32] + ciphertext), mac):
            break
    else:
        raise WrongPassword("That password does not open this keystore.")
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # first use

    dec = Cipher(algorithms.AES(dk[:16]), modes.CTR(iv)).decryptor()
    key = dec.update(ciphertext) + dec.finalize()
    if len(key) != 32:
        raise CorruptWalletFile("This keystore holds a key of the wrong length.")
    expected = keystore_address(data)
    if expected is not None and keys.PrivateKey(key).public_key.to_checksum_address() != expected:
        raise CorruptWalletFile("This keystore's key does not match the address written in it.")
    return key
