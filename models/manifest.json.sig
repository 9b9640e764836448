{
  "format": "opsporing-signature/1",
  "algorithm": "ed25519",
  "key_id": "21bad2910969f5d5",
  "signature": "3SRPF6GrjlToza9yNCKg5qlteZzD9q/xuVPBNT5PckqIELk6tBiVuE72x2J8H2kxa2SgXnvbaRnSf6IUy1K4CQ=="
}
