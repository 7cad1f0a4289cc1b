// Python side of the warm protocol, run as [interpreter, '-c', WARM_SCRIPT, ytdlpPath].
// stdin: one job per line {"id", "url", "opts"}; stdout: {"ready": true, "version"} once,
// then one {"id", "ok": true, "info"} or {"id", "ok": false, "error", "log"} line per job.
// It exits on stdin EOF, so it dies with the thread or process that owns the pipe.
//
// YoutubeDL instances are cached per options (at most 4): building one costs ~55 ms
// (extractor list + CA bundle, measured with cProfile on yt-dlp 2023.03.04) while a
// generic extraction takes ~6 ms. Recycling after maxWarmJobs bounds any state they keep.
export const WARM_SCRIPT = String.raw`
import json, os, sys

# Protocol lines go to a private copy of fd 1; fd 1 and sys.stdout then point at
# stderr, so nothing yt-dlp (or a C library) prints can corrupt the channel.
_proto = os.fdopen(os.dup(1), 'w', encoding='utf-8')
os.dup2(2, 1)
sys.stdout = sys.stderr


def send(msg):
    _proto.write(json.dumps(msg) + '\n')
    _proto.flush()


if sys.path and sys.path[0] == '':
    del sys.path[0]
if len(sys.argv) > 1:
    # a zipapp yt-dlp (the official release file) is importable from its own path
    sys.path.insert(0, sys.argv[1])

try:
    import yt_dlp
except BaseException as e:
    send({'ready': False, 'error': 'cannot import yt_dlp: %r' % (e,)})
    sys.exit(3)

# Pay the one-time costs (extractor classes, a first YoutubeDL with its CA
# bundle) before reporting ready, not on the first job.
try:
    yt_dlp.extractor.gen_extractor_classes()
    yt_dlp.YoutubeDL({'quiet': True, 'no_warnings': True, 'ignoreconfig': True})
except BaseException:
    pass


class Log:
    def __init__(self):
        self.lines = []

    def debug(self, msg):
        pass

    info = debug

    def warning(self, msg):
        self.lines.append(str(msg))
        del self.lines[:-20]

    error = warning


cache = {}
# an extraction error leaves the client usable; anything else might not
EXPECTED_ERRORS = getattr(getattr(yt_dlp, 'utils', None), 'DownloadError', ())


def client(opts):
    key = json.dumps(opts, sort_keys=True)
    entry = cache.pop(key, None)
    if entry is None:
        while len(cache) >= 4:
            cache.pop(next(iter(cache)))
        log = Log()
        entry = (yt_dlp.YoutubeDL(dict(opts, logger=log)), log)
    cache[key] = entry
    return key, entry


def main():
    send({'ready': True, 'version': yt_dlp.version.__version__})
    for raw in sys.stdin:
        if not raw.strip():
            continue
        try:
            job = json.loads(raw)
            jid, url, opts = job['id'], job['url'], job['opts']
        except Exception as e:
            send({'id': None, 'ok': False, 'error': 'bad job line: %s' % e, 'log': []})
            continue
        key, log = None, Log()
        try:
            key, (ydl, log) = client(opts)
            del log.lines[:]
            info = ydl.sanitize_info(ydl.extract_info(url, download=False))
            line = json.dumps({'id': jid, 'ok': True, 'info': info})
        except Exception as e:
            if not isinstance(e, EXPECTED_ERRORS):
                cache.pop(key, None)
            line = json.dumps({'id': jid, 'ok': False, 'error': str(e) or repr(e), 'log': log.lines})
        _proto.write(line + '\n')
        _proto.flush()


try:
    main()
except BrokenPipeError:
    os._exit(0)
`
