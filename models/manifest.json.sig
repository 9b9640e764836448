{
  "format": "opsporing-signature/1",
  "algorithm": "ed25519",
  "key_id": "21bad2910969f5d5",
  "signature": "aV7tiafjPB4XJZtBmpQ/DdiVQWxGZzaJ7b6lHewsEHCSgixJhTO+8ZLLRba4IAkTLasLjiCNHvNgRNBkA1V7CQ=="
}
