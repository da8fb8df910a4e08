namespace Hermes.Admin.OperatorConsole.Pages;

/// <summary>One labelled input of a console form, with its hint and its error (both tied to it with aria-describedby).</summary>
public sealed record FieldModel(string Name, string Label, string? Value, string? Hint = null, string? Error = null, string Type = "text", string? Id = null)
{
    public string InputId => Id ?? Name;
}
