// The player: start a lease, play the HLS ladder (hls.js, or the browser's own HLS), send a
// heartbeat every few seconds (which renews the signed media token), stop on leaving.
(function () {
  "use strict";
  var root = document.querySelector("[data-player]");
  if (!root) return;
  var video = root.querySelector("video");
  var status = root.querySelector("[data-status]");
  var playBtn = root.querySelector("[data-play]");
  var stopBtn = root.querySelector("[data-stop]");
  var playingBox = root.querySelector("[data-playing]");
  var playingList = root.querySelector("[data-playing-list]");
  var csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  var lease = null, token = null, timer = null, hls = null;

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: {"X-CSRFToken": csrf, "Accept": "application/json"},
      body: new URLSearchParams(body || {})
    }).then(function (r) {
      return r.json().then(function (data) { return {status: r.status, data: data}; });
    });
  }

  function withToken(url) {
    return token ? url.replace(/\/stream\/[^/]+\//, "/stream/" + token + "/") : url;
  }

  function say(text) { status.textContent = text; }

  function showPlaying(data) {
    say(data.detail);
    playingList.textContent = "";
    data.playing.forEach(function (p) {
      var li = document.createElement("li");
      li.textContent = p.title + " on " + p.device + " ";
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = "Stop it";
      b.setAttribute("aria-label", "Stop " + p.title + " on " + p.device);
      b.addEventListener("click", function () {
        post("/watch/lease/" + p.lease_id + "/stop/", {}).then(function () {
          playingBox.hidden = true;
          say("Stopped. Press Play to watch here.");
          playBtn.focus();
        });
      });
      li.appendChild(b);
      playingList.appendChild(li);
    });
    playingBox.hidden = false;
  }

  function ended(text) {
    clearInterval(timer);
    timer = null;
    lease = null;
    if (hls) { hls.destroy(); hls = null; }
    video.pause();
    playBtn.disabled = false;
    stopBtn.disabled = true;
    say(text);
  }

  function beat() {
    if (!lease) return;
    post("/watch/lease/" + lease + "/beat/", {position: video.currentTime.toFixed(1)})
      .then(function (r) {
        if (r.status === 200) token = r.data.token;
        else ended(r.data.detail || "Playback stopped.");
      });
  }

  function attach(data) {
    var start = data.position || 0;
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({
        enableWorker: false,
        xhrSetup: function (xhr, url) { xhr.open("GET", withToken(url), true); }
      });
      hls.loadSource(data.src);
      hls.attachMedia(video);
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
        if (start) video.currentTime = start;
        video.play().catch(function () { say("Press play on the video to start."); });
      });
      // A slow or dropped request, or a decoding hiccup, is recovered the way hls.js
      // recommends (load again, recover the media once more) instead of leaving the picture
      // frozen; only what cannot be recovered ends playback, and says so.
      var recoveries = 0;
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal || !hls) return;
        recoveries += 1;
        if (recoveries <= 5 && data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
          hls.startLoad();
        } else if (recoveries <= 5 && data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          var id = lease;  // give the screen back
          if (id) post("/watch/lease/" + id + "/stop/", {position: video.currentTime.toFixed(1)});
          ended("Playback failed: please press Play again.");
        }
      });
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = data.src;
      video.addEventListener("loadedmetadata", function () {
        if (start) video.currentTime = start;
        video.play().catch(function () {});
      }, {once: true});
    } else {
      say("This browser cannot play HLS video.");
      return;
    }
    if (data.captions) {
      var track = document.createElement("track");
      track.kind = "captions";
      track.srclang = "en";
      track.label = "English";
      track.src = data.captions;
      video.appendChild(track);
    }
  }

  playBtn.addEventListener("click", function () {
    playBtn.disabled = true;
    say("Starting…");
    post(root.dataset.start, {device: "Web browser"}).then(function (r) {
      if (r.status !== 200) {
        playBtn.disabled = false;
        if (r.data.playing) showPlaying(r.data); else say(r.data.detail || "Could not start.");
        return;
      }
      lease = r.data.lease_id;
      token = r.data.token;
      stopBtn.disabled = false;
      playingBox.hidden = true;
      say("Playing.");
      attach(r.data);
      timer = setInterval(beat, (r.data.heartbeat_s || 15) * 1000);
    });
  });

  stopBtn.addEventListener("click", function () {
    if (!lease) return;
    var id = lease;
    post("/watch/lease/" + id + "/stop/", {position: video.currentTime.toFixed(1)});
    ended("Stopped. Your place is kept.");
    playBtn.focus();
  });

  window.addEventListener("pagehide", function () {
    if (lease) post("/watch/lease/" + lease + "/stop/", {position: video.currentTime.toFixed(1)});
  });

  // The page is served with Play disabled: until this script listens (it is deferred behind
  // hls.js, slow to parse on a busy machine) a click would do nothing at all.
  playBtn.disabled = false;
})();
