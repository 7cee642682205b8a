<?php
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Route;
use Illuminate\Support\Facades\Validator;

Route::get('/hello/{name}', function (string $name) {
    return response("<!DOCTYPE html>\n<title>Hello</title>\n<h1>Hello, " . e($name) . "!</h1>\n");
});

// A counter kept in the session.
Route::get('/counter', function (Request $request) {
    $count = $request->session()->get('count', 0) + 1;
    $request->session()->put('count', $count);
    return response()->json(['count' => $count]);
});

// Rendered by the app's exception handler as Laravel's production error page (500).
Route::get('/boom', function () {
    throw new RuntimeException('the app failed on purpose');
});

// A form post: a validation error is a redirect back (422 JSON when JSON is asked for), else
// 303 to the greeting.
Route::post('/form', function (Request $request) {
    $data = Validator::make($request->all(), ['name' => 'required', 'email' => 'required|email'])
        ->validate();
    return redirect('/hello/' . rawurlencode($data['name']), 303);
});
