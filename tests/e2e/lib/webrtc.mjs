// WebRTC settings for Node clients in the e2e tests.
//
// bittorrent-tracker 11 and webtorrent 3 create peers with @thaunknown/simple-peer
// 10, which always uses `webrtc-polyfill` (node-datachannel = libdatachannel +
// libjuice) and ignores the old `wrtc` option (only bittorrent-tracker 10 /
// simple-peer 9 still takes @roamhq/wrtc that way: fixtures/bt-client.mjs impl
// 'v10'; libwebrtc offers loopback candidates by itself and needs only
// `iceServers: []`). Two consequences for a network namespace that only has `lo`:
//   * libjuice never offers loopback host candidates when it gathers on the
//     wildcard address; binding ICE to 127.0.0.1 (`bindAddress`, passed through
//     rtcConfig -> RTCPeerConnection -> node-datachannel) makes it offer
//     `127.0.0.1 typ host`, which is all these tests need.
//   * no STUN/TURN servers: iceServers must be empty (no DNS, no outside traffic).
// webrtc-polyfill never emits the final null ICE candidate, so simple-peer
// (trickle: false) sends each offer/answer only after its 5 s ICE-complete timeout:
// a data channel takes ~10 s to open. The tests' timeouts allow for that.
export const nodeRtcConfig = Object.freeze({ iceServers: [], bindAddress: '127.0.0.1' })
