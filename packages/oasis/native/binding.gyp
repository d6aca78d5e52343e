{
  "targets": [
    {
      "target_name": "oasis_tap",
      "sources": ["tap.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "tap-blaster",
      "type": "executable",
      "sources": ["tap_blaster.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
