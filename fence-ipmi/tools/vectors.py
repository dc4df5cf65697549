#!/usr/bin/env python3
"""Independent computation of the test vectors in fence-ipmi/src/crypto.rs.

Uses only Python's hmac/hashlib and the `cryptography` package (AES), so that the
Rust implementation is checked against a second implementation of the IPMI v2.0
formulas (section 13.31-13.33) rather than against itself.
Run: /root/.cache/fence-rs-peers-venv/bin/python fence-ipmi/tools/vectors.py
"""
import hashlib, hmac, struct

def H(alg, key, *parts):
    return hmac.new(key, b"".join(parts), alg).digest()

sidm = struct.pack("<I", 0xA0A1A2A3)
sidc = struct.pack("<I", 0x02030405)
rm = bytes(range(16))
rc = bytes(0x10 + i for i in range(16))
guid = bytes(0x20 + i for i in range(16))
role = bytes([0x14])
uname = b"admin"
ulen = bytes([len(uname)])
kuid = b"password"
kg = bytes(range(1, 21))

for name, alg, icv in (("SHA1", hashlib.sha1, 12), ("SHA256", hashlib.sha256, 16)):
    print(f'RAKP2_{name} = "{H(alg, kuid, sidm, sidc, rm, rc, guid, role, ulen, uname).hex()}"')
    print(f'RAKP3_{name} = "{H(alg, kuid, rc, sidm, role, ulen, uname).hex()}"')
    sik = H(alg, kuid, rm, rc, role, ulen, uname)
    print(f'SIK_{name} = "{sik.hex()}"')
    if name == "SHA1":
        print(f'SIK_SHA1_KG = "{H(alg, kg, rm, rc, role, ulen, uname).hex()}"')
    print(f'RAKP4_{name} = "{H(alg, sik, rm, sidc, guid)[:icv].hex()}"')
    c1, c2 = bytes([1]) * 20, bytes([2]) * 20
    k1 = H(alg, sik, c1)
    print(f'K1_{name} = "{k1.hex()}"')
    print(f'K2_{name} = "{H(alg, sik, c2).hex()}"')
    print(f'INTEG_{name} = "{H(alg, k1, b"integrity")[:icv].hex()}"')

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
key = bytes(range(16)); iv = bytes(0xF0 + i for i in range(16))
data = b"hello ipmi"
pad = (16 - (len(data) + 1) % 16) % 16
plain = data + bytes(range(1, pad + 1)) + bytes([pad])
enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
print(f'AES_HELLO = "{(iv + enc.update(plain) + enc.finalize()).hex()}"')

pw = kuid.ljust(16, b"\0")
md5 = hashlib.md5(pw + struct.pack("<I", 0x11223344) + bytes([0x20, 0x18, 0xC8]) + struct.pack("<I", 7) + pw)
print(f'V15_MD5 = "{md5.hexdigest()}"')
