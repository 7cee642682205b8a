<?php
// A worker-mode script: boots once, then serves every request through handle(), which does
// what ?t= names.
$served = 0;  // a global: it persists from one request to the next
date_default_timezone_set('Europe/Paris');  // the app's zone, set while booting
$booted_at = new DateTimeImmutable('2024-01-15 12:00:00', new DateTimeZone('America/Chicago'));
stream_context_set_default(['http' => ['user_agent' => 'worker-boot']]);  // and HTTP client
$boot_context = stream_context_get_default();  // kept, as an HTTP client keeps its context

// Records the context libxml opens an external entity with (askrt://...).
class AskrTestStream
{
    public $context;
    public static $seen = 'not opened';

    public function stream_open($path, $mode, $options, &$opened_path): bool
    {
        self::$seen = is_resource($this->context) ? stream_context_get_options($this->context) : null;
        return false;
    }

    public function url_stat($path, $flags): array
    {
        return [];  // exists: libxml's loader asks first
    }
}
stream_wrapper_register('askrt', 'AskrTestStream');
class AskrTestFilter extends php_user_filter
{
}

// libxml's state as a request finds it; loads a document with an external entity, which the
// entity loader (a request's own, or PHP's through askrt://) fails to load.
function xml_state(): array
{
    global $xml_loaded;
    $xml_loaded = [];
    AskrTestStream::$seen = 'not opened';
    $last = libxml_get_last_error();
    $state = [
        'internal' => libxml_use_internal_errors(),
        'errors' => count(libxml_get_errors()),
        'last' => $last ? trim($last->message) : null,
        'disabled' => @libxml_disable_entity_loader(false),
    ];
    @libxml_disable_entity_loader($state['disabled']);
    $d = new DOMDocument();
    @$d->loadXML('<!DOCTYPE a [<!ENTITY e SYSTEM "askrt://entity">]><a>&e;</a>', LIBXML_NOENT);
    $state['loader'] = $xml_loaded;
    $state['opened_with'] = AskrTestStream::$seen;
    return $state;
}

function handle(): void
{
    global $served;
    static $calls = 0;
    $served++;
    $calls++;
    switch ($_GET['t'] ?? 'globals') {
        case 'globals':
            header('Content-Type: application/json');
            echo json_encode([
                'served' => $served,
                'calls' => $calls,
                'get' => $_GET,
                'post' => $_POST,
                'cookie' => $_COOKIE,
                'files' => array_keys($_FILES),
                'request' => $_REQUEST,
                'uri' => $_SERVER['REQUEST_URI'] ?? null,
                'custom' => $_SERVER['HTTP_X_CUSTOM'] ?? null,
                'session' => isset($_SESSION),
                'code' => http_response_code(),
                'headers' => headers_list(),
                'pid' => getmypid(),
            ]);
            break;
        case 'leak':  // everything a request could leave behind for the next one
            header('X-Leak: yes');
            setcookie('leak', 'yes');
            http_response_code(418);
            session_start();
            $_SESSION['secret'] = 'from-leak';
            echo 'leaked';
            break;
        case 'session':
            session_start();
            $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
            echo json_encode(['n' => $_SESSION['n'], 'secret' => $_SESSION['secret'] ?? null]);
            break;
        case 'upload':
            $f = $_FILES['file'];
            echo json_encode([
                'tmp_name' => $f['tmp_name'],
                'size' => $f['size'],
                'sha256' => hash_file('sha256', $f['tmp_name']),
            ]);
            break;
        case 'stdin':
            echo strlen(file_get_contents('php://input'));
            break;
        case 'throw':
            throw new RuntimeException('thrown by the handler');
        case 'redirect_throw':  // a status chosen before the exception
            header('Location: /login');
            throw new RuntimeException('thrown after a redirect');
        case 'obthrow':  // counts in the session, then leaves a buffer whose handler throws
            session_start();
            $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
            ob_start(static function (string $buffer): string {
                throw new RuntimeException('thrown by an output handler');
            });
            echo 'buffered';
            break;
        case 'fatal':
            echo 'partial';
            trigger_error('fatal in the handler', E_USER_ERROR);
        case 'exit':
            echo 'exiting';
            exit(0);
        case 'nested':  // asks for the next request from inside this one
            askr_handle_request('handle');
            echo 'after';
            break;
        case 'seed':  // seeds mt_rand(), says its second number for that seed, leaves it there
            mt_srand(42);
            mt_rand();
            $second = mt_rand();
            mt_srand(42);
            mt_rand();
            echo $second;
            break;
        case 'rand':
            echo mt_rand();
            break;
        case 'tz':  // the zone, and ?set= another for the rest of the request
            global $booted_at;  // a date made while booting, with its own zone, stays whole
            echo date_default_timezone_get(), ' ', $booted_at->format('e T P');
            if (isset($_GET['set'])) date_default_timezone_set($_GET['set']);
            break;
        case 'context':  // the default stream context's options; ?set=1 adds a header there
            echo json_encode(stream_context_get_options(stream_context_get_default()));
            if (isset($_GET['set'])) {
                stream_context_set_default(['http' => ['header' => 'Authorization: Bearer secret']]);
                stream_context_set_option(stream_context_get_default(), 'ssl', 'verify_peer', false);
            }
            break;
        case 'mb':  // mbstring's settings; ?set=1 changes them for the rest of the request
            echo json_encode([mb_internal_encoding(), mb_http_output(), mb_substitute_character(),
                mb_detect_order(), mb_regex_encoding(), mb_language(), mb_strlen("\u{e9}t\u{e9}")]);
            if (isset($_GET['set'])) {
                mb_internal_encoding('ISO-8859-1');
                mb_http_output('ISO-8859-1');
                mb_substitute_character('none');
                mb_detect_order(['UTF-8', 'ISO-8859-1']);
                mb_regex_encoding('ISO-8859-1');
                mb_language('Japanese');
            }
            break;
        case 'xml':  // libxml's state; ?set=1 changes it, and leaves an error behind
            echo json_encode(xml_state());
            if (isset($_GET['set'])) {
                libxml_use_internal_errors(true);
                @libxml_disable_entity_loader(true);
                libxml_set_external_entity_loader(static function ($public, $system, $context) {
                    global $xml_loaded;
                    $xml_loaded[] = $system;
                    return null;
                });
                libxml_set_streams_context(stream_context_create(['askrt' => ['from' => 'request']]));
                (new DOMDocument())->loadXML('<unclosed>');
            }
            break;
        case 'params':  // the default context's notification callback; ?set= sets one
            global $boot_context;
            $p = stream_context_get_params(stream_context_get_default());
            echo isset($p['notification']) ? 'notifier' : 'none';
            $notify = static function () {
            };
            if (($_GET['set'] ?? '') === 'default') {
                stream_context_set_params(stream_context_get_default(), ['notification' => $notify]);
            } elseif (($_GET['set'] ?? '') === 'kept') {  // through the context kept since boot
                stream_context_set_params($boot_context, ['notification' => $notify]);
            }
            break;
        case 'wrappers':  // which wrappers and filters there are; ?set=1 changes them
            echo json_encode([in_array('http', stream_get_wrappers()), in_array('askrt', stream_get_wrappers()),
                in_array('reqw', stream_get_wrappers()), in_array('reqf', stream_get_filters())]);
            if (isset($_GET['set'])) {
                stream_wrapper_unregister('http');
                stream_wrapper_unregister('askrt');
                echo ' ', json_encode([stream_wrapper_register('reqw', 'AskrTestStream'),
                    stream_filter_register('reqf', 'AskrTestFilter')]);
            }
            break;
        case 'strtok':  // the next token of the string strtok() was last given; ?set= gives one
            $token = isset($_GET['set']) ? strtok($_GET['set'], ' ') : strtok(' ');
            echo json_encode($token);
            break;
        case 'ping':
            echo 'pong';
            break;
        case 'header_after_output':
            echo "\n";
            header('Location: /next');
            setcookie('seen', '1');
            echo 'moved';
            break;
        case 'sleep':
            usleep(300000);
            echo 'slept';
            break;
    }
}

while (askr_handle_request('handle')) {
}
