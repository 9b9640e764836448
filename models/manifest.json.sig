{
  "format": "opsporing-signature/1",
  "algorithm": "ed25519",
  "key_id": "21bad2910969f5d5",
  "signature": "S3Wv345thrk2nzX+iM5A/i9pfCL/v42jHvR8/+UqsVK6jNVeTB0VvYkjs6lFqhGMxgL+6lZnQCWvn2o0eq/4Dg=="
}
