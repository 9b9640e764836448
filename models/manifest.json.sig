{
  "format": "opsporing-signature/1",
  "algorithm": "ed25519",
  "key_id": "21bad2910969f5d5",
  "signature": "8mSC4cFYmL8ewr6F9b9mDB2l5PdutTQWssfQPi11McZEwRxquP+C30jSf03VQU/HxjB1ZPAXOgYPkLMS5LmxCA=="
}
