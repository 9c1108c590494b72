{
  "format": "hoheit-refvalues-signature/v1",
  "algorithm": "ed25519",
  "key_id": "sha256:04a1db9de641a46daea7089248c542ff86fbbfd06cc4189360c462277df21ff4",
  "sha256": "ce6b861e5e97631e6dbaf660abd0634fb2ed470929851579a1feb91240073d9c",
  "signature": "w3Yq/o8nRnBvuoVcxNDX98sxfJUa4Ec0zoIcTqlbX3r2gWRtPa1n1MqEl4IHEE2GlJhrbRDtzk5lFCkfxS2GCQ=="
}
