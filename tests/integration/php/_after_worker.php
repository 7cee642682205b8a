<?php
// Worker-mode entry that works on after each answer, in the loop, as the README suggests:
// ?after=S sleeps S seconds there before taking the next request.
$after = 0;
$handler = static function () use (&$after): void {
    $after = (int) ($_GET['after'] ?? 0);
    require $_SERVER['SCRIPT_FILENAME'];
};
while (askr_handle_request($handler)) {
    sleep($after);
}
