{
  "format": "opsporing-signature/1",
  "algorithm": "ed25519",
  "key_id": "21bad2910969f5d5",
  "signature": "5bSkMb1FepOosodrhkvwuSIHeSnQ900jJ65GiZylO+A3PSG+exwGIDu8DWV1vzDnVNpzickjvPyfbtSe07M0CQ=="
}
