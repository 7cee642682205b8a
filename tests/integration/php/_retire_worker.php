<?php
// Worker-mode entry that, once askr_handle_request() says to stop (max_requests), takes a while
// to shut its application down (3 s) before the script ends.
$handler = static function (): void {
    require $_SERVER['SCRIPT_FILENAME'];
};
while (askr_handle_request($handler)) {
}
sleep(3);
