// Python side of the warm protocol, run as [interpreter, '-c', WARM_SCRIPT, ytdlpPath].
// stdin: one job per line {"id", "url", "opts"} (or {"id", "probe": true, "opts"}: what this
// yt-dlp offers, see YtDlpProbe); stdout: {"ready": true, "version"} once, then one
// {"id", "ok": true, "info"} or {"id", "ok": false, "error", "log"} line per job.
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


def has_module(name):
    deps = getattr(yt_dlp, 'dependencies', None)
    if getattr(deps, name, None) is not None:
        return True
    try:
        __import__(name)
        return True
    except Exception:
        return False


def probe(opts):
    # What this yt-dlp offers, read through getattr so that any version answers.
    ejs = has_module('yt_dlp_ejs')
    if not ejs:
        try:
            from yt_dlp.extractor.youtube.jsc._builtin import vendor  # noqa: F401 (solver scripts vendored by a distribution)
            ejs = True
        except Exception:
            pass
    option = False
    try:
        option = yt_dlp.options.create_parser().get_option('--js-runtimes') is not None
    except Exception:
        pass
    runtimes = []
    ydl = yt_dlp.YoutubeDL(dict(opts, logger=Log()))
    for name, rt in (getattr(ydl, '_js_runtimes', None) or {}).items():
        info = None
        try:
            info = rt.info if rt is not None else None
        except Exception:
            pass
        runtimes.append({
            'name': name,
            'version': getattr(info, 'version', None),
            'path': getattr(info, 'path', None),
            'supported': info is not None and getattr(info, 'supported', True) is not False,
        })
    return {'version': yt_dlp.version.__version__, 'python': True, 'jsRuntimesOption': option,
            'jsRuntimes': runtimes, 'ejs': ejs, 'curlCffi': has_module('curl_cffi')}


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
        if job.get('probe'):
            try:
                line = json.dumps({'id': jid, 'ok': True, 'info': probe(opts)})
            except Exception as e:
                line = json.dumps({'id': jid, 'ok': False, 'error': 'probe failed: %r' % (e,), 'log': []})
            _proto.write(line + '\n')
            _proto.flush()
            continue
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
