"""Password sealing for small secrets (the recovery phrase): scrypt + ChaCha20-Poly1305.

The V3 keystore format only holds a private key, and its AES-CTR + keccak MAC is dated; the phrase
gets a modern AEAD instead. The envelope is self-describing JSON so parameters can change later.
"""

from __future__ import annotations

import os
from typing import Any

from app.wallet.errors import CorruptWalletFile, WrongPassword

DEFAULT_SCRYPT_N = 2**17
_AAD = b"morpheus-desktop/sealed-secret/v1"


def seal(plaintext: bytes, password: str, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> dict[str, Any]:
    salt, nonce = os.urandom(16), os.urandom(12)
    r, p = 8, 1
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # first use

    from app.wallet.keystore import scrypt_key

    key = scrypt_key(password, salt, scrypt_n, r, p)
    ct = ChaCha20Poly1305(key).encrypt(nonce, plaintext, _AAD)
    return {
        "version": 1,
        "kdf": "scrypt",
        "kdfparams": {"n": scrypt_n, "r": r, "p": p, "salt": salt.hex()},
        "cipher": "chacha20-poly1305",
        "nonce": nonce.hex(),
        "ciphertext": ct.hex(),
    }


def unseal(box: Any, password: str) -> bytes:
    try:
        if box["version"] != 1 or box["kdf"] != "scrypt" or box["cipher"] != "chacha20-poly1305":
            raise ValueError("unknown envelope")
        kp = box["kdfparams"]
        n, r, p = int(kp["n"]), int(kp["r"]), int(kp["p"])
        salt, nonce = bytes.fromhex(kp["salt"]), bytes.fromhex(box["nonce"])
        ct = bytes.fromhex(box["ciphertext"])
        if n < 2 or n & (n - 1) or n > 2**22 or r > 32 or p > 16:
            raise ValueError("kdf parameters out of range")
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptWalletFile(
            "The encrypted recovery phrase in the wallet file is damaged.", detail=str(exc)
        ) from exc
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    from app.wallet.keystore import password_variants, scrypt_key

    for candidate in password_variants(password):
        try:
            return ChaCha20Poly1305(scrypt_key(candidate, salt, n, r, p)).decrypt(nonce, ct, _AAD)
        except InvalidTag:
            continue
    raise WrongPassword()
